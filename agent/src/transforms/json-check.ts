/**
 * Whether a string is JSON, as JSON.parse would say, without building the value: the `json` cast
 * checks every cell and keeps the text, and JSON.parse's objects were a sixth of a worker's time.
 * Nesting deeper than MAX_DEPTH is left to JSON.parse (whose limit is the stack), so the answer
 * is always JSON.parse's.
 */
const MAX_DEPTH = 64

enum C {
  Tab = 9,
  Lf = 10,
  Cr = 13,
  Space = 32,
  Quote = 34,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Slash = 47,
  Zero = 48,
  Nine = 57,
  Colon = 58,
  UpperE = 69,
  LeftBracket = 91,
  Backslash = 92,
  RightBracket = 93,
  LowerE = 101,
  LeftBrace = 123,
  RightBrace = 125,
}

export function isJson(text: string): boolean {
  const fast = scan(text)
  if (fast !== undefined) return fast
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
}

// The text being scanned and the position in it (one scan at a time: no closures to allocate).
let s = ''
let n = 0
let i = 0

function skipSpace(): void {
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c !== C.Space && c !== C.Lf && c !== C.Cr && c !== C.Tab) break
    i++
  }
}

/** A string, s[i] being its opening quote. */
function string(): boolean {
  i++
  while (i < n) {
    const c = s.charCodeAt(i++)
    if (c === C.Quote) return true
    if (c < 0x20) return false
    if (c === C.Backslash) {
      if (i >= n) return false
      const e = s.charCodeAt(i++)
      if (e === 117 /* u */) {
        if (i + 4 > n) return false
        for (let k = 0; k < 4; k++) if (!isHex(s.charCodeAt(i++))) return false
      } else if (
        e !== C.Quote &&
        e !== C.Backslash &&
        e !== C.Slash &&
        e !== 98 /* b */ &&
        e !== 102 /* f */ &&
        e !== 110 /* n */ &&
        e !== 114 /* r */ &&
        e !== 116 /* t */
      )
        return false
    }
  }
  return false
}

function digits(): boolean {
  const start = i
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c < C.Zero || c > C.Nine) break
    i++
  }
  return i > start
}

function number(): boolean {
  if (s.charCodeAt(i) === C.Minus) i++
  if (i >= n) return false
  if (s.charCodeAt(i) === C.Zero) i++
  else if (!digits()) return false
  if (i < n && s.charCodeAt(i) === C.Dot) {
    i++
    if (!digits()) return false
  }
  if (i < n && (s.charCodeAt(i) === C.LowerE || s.charCodeAt(i) === C.UpperE)) {
    i++
    if (i < n && (s.charCodeAt(i) === C.Plus || s.charCodeAt(i) === C.Minus)) i++
    if (!digits()) return false
  }
  return true
}

function word(w: string): boolean {
  if (!s.startsWith(w, i)) return false
  i += w.length
  return true
}

/** `"key":` with s[i] where the key should start (after spaces). */
function key(): boolean {
  if (i >= n || s.charCodeAt(i) !== C.Quote || !string()) return false
  skipSpace()
  if (i >= n || s.charCodeAt(i) !== C.Colon) return false
  i++
  return true
}

/** true or false when sure; undefined when the nesting is too deep to follow here. */
function scan(text: string): boolean | undefined {
  s = text
  n = text.length
  i = 0
  // Open containers: true for an object, false for an array.
  const stack: boolean[] = []
  for (;;) {
    // A value is expected here.
    skipSpace()
    if (i >= n) return false
    const c = s.charCodeAt(i)
    if (c === C.LeftBrace || c === C.LeftBracket) {
      if (stack.length >= MAX_DEPTH) return undefined
      const object = c === C.LeftBrace
      i++
      skipSpace()
      if (i < n && s.charCodeAt(i) === (object ? C.RightBrace : C.RightBracket)) {
        i++ // an empty container: a complete value
      } else {
        stack.push(object)
        if (object && !key()) return false
        continue
      }
    } else if (c === C.Quote) {
      if (!string()) return false
    } else if (c === C.Minus || (c >= C.Zero && c <= C.Nine)) {
      if (!number()) return false
    } else if (!(word('true') || word('false') || word('null'))) {
      return false
    }
    // After a complete value: close containers, or a comma and the next member.
    for (;;) {
      skipSpace()
      if (stack.length === 0) return i === n
      if (i >= n) return false
      const object = stack[stack.length - 1]!
      const d = s.charCodeAt(i++)
      if (d === (object ? C.RightBrace : C.RightBracket)) {
        stack.pop()
        continue
      }
      if (d !== C.Comma) return false
      if (object) {
        skipSpace()
        if (!key()) return false
      }
      break
    }
  }
}
