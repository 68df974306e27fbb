import './op-app.js'
