#!/usr/bin/env node
import '../dist/outpost.js'
