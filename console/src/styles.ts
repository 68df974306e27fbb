import { css } from 'lit'

/** Shared look: system fonts, high contrast, works from 390 px up. */
export const baseStyles = css`
  :host {
    display: block;
    font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
    color: #1b1f24;
  }
  h2 {
    font-size: 1.05rem;
    margin: 0 0 0.75rem;
  }
  table {
    width: 100%;
    border-collapse: collapse;
    font-size: 0.9rem;
  }
  th,
  td {
    text-align: left;
    padding: 0.45rem 0.6rem;
    border-bottom: 1px solid #e3e6ea;
    vertical-align: top;
  }
  th {
    font-weight: 600;
    color: #4a5260;
    background: #f6f7f9;
  }
  .card {
    background: #fff;
    border: 1px solid #e3e6ea;
    border-radius: 8px;
    padding: 1rem;
    margin-bottom: 1rem;
    overflow-x: auto;
  }
  .badge {
    display: inline-block;
    padding: 0.1rem 0.5rem;
    border-radius: 999px;
    font-size: 0.78rem;
    font-weight: 600;
  }
  .online,
  .succeeded {
    background: #dcf5e3;
    color: #0f5b2a;
  }
  .degraded,
  .running {
    background: #fff1cc;
    color: #6b4b00;
  }
  .offline,
  .failed,
  .cancelled {
    background: #fde2e1;
    color: #8a1c17;
  }
  .revoked {
    background: #e6e6e6;
    color: #333;
  }
  .muted {
    color: #5d6673;
    font-size: 0.85rem;
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
  button {
    font: inherit;
    padding: 0.2rem 0.6rem;
    margin: 0.1rem;
    border: 1px solid #9aa3ad;
    border-radius: 4px;
    background: #fff;
    cursor: pointer;
  }
  a:focus-visible,
  button:focus-visible {
    outline: 2px solid #1d4ed8;
    outline-offset: 2px;
  }
  code {
    font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
    font-size: 0.85em;
  }
`

/** Inputs, selects and text areas: readable, and a focus ring as visible as the buttons'. */
export const formStyles = css`
  input,
  select,
  textarea {
    font: inherit;
    padding: 0.3rem 0.4rem;
    border: 1px solid #9aa3ad;
    border-radius: 4px;
    background: #fff;
    max-width: 100%;
    box-sizing: border-box;
  }
  input:focus-visible,
  select:focus-visible,
  textarea:focus-visible {
    outline: 2px solid #1d4ed8;
    outline-offset: 1px;
  }
  button:disabled {
    cursor: default;
    opacity: 0.55;
  }
`

/** Name-value lists (dl) of the detail pages. */
export const detailStyles = css`
  dl {
    display: grid;
    grid-template-columns: max-content minmax(0, 1fr);
    gap: 0.25rem 1rem;
    margin: 0;
    font-size: 0.9rem;
  }
  dt {
    color: #4a5260;
  }
  dd {
    margin: 0;
    overflow-wrap: anywhere;
  }
`
