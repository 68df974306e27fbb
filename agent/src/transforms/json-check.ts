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

// Each step takes the text, a position and the text's length, and gives the position after what
// it read, or -1 when the text is not JSON there. The position lives in locals: as module-level
// variables (one scan at a time) every character cost a load and a store of a context slot, 20 ns
// a character, slower than JSON.parse.

function skipSpace(s: string, i: number, n: number): number {
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c !== C.Space && c !== C.Lf && c !== C.Cr && c !== C.Tab) break
    i++
  }
  return i
}

/** A string, s[i] being its opening quote. */
function string(s: string, i: number, n: number): number {
  i++
  while (i < n) {
    const c = s.charCodeAt(i++)
    if (c === C.Quote) return i
    if (c < 0x20) return -1
    if (c === C.Backslash) {
      if (i >= n) return -1
      const e = s.charCodeAt(i++)
      if (e === 117 /* u */) {
        if (i + 4 > n) return -1
        for (let k = 0; k < 4; k++) if (!isHex(s.charCodeAt(i++))) return -1
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
        return -1
    }
  }
  return -1
}

/** One or more digits from i. */
function digits(s: string, i: number, n: number): number {
  const start = i
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c < C.Zero || c > C.Nine) break
    i++
  }
  return i > start ? i : -1
}

function number(s: string, i: number, n: number): number {
  if (s.charCodeAt(i) === C.Minus) i++
  if (i >= n) return -1
  if (s.charCodeAt(i) === C.Zero) i++
  else {
    i = digits(s, i, n)
    if (i < 0) return -1
  }
  if (i < n && s.charCodeAt(i) === C.Dot) {
    i = digits(s, i + 1, n)
    if (i < 0) return -1
  }
  if (i < n && (s.charCodeAt(i) === C.LowerE || s.charCodeAt(i) === C.UpperE)) {
    i++
    if (i < n && (s.charCodeAt(i) === C.Plus || s.charCodeAt(i) === C.Minus)) i++
    i = digits(s, i, n)
  }
  return i
}

function word(s: string, i: number, w: string): number {
  return s.startsWith(w, i) ? i + w.length : -1
}

/** A string, number, true, false or null, c = s[i] being its first character. */
function scalar(s: string, i: number, n: number, c: number): number {
  if (c === C.Quote) return string(s, i, n)
  if (c === C.Minus || (c >= C.Zero && c <= C.Nine)) return number(s, i, n)
  if (c === 116 /* t */) return word(s, i, 'true')
  if (c === 102 /* f */) return word(s, i, 'false')
  return word(s, i, 'null')
}

/** `"key":` with s[i] where the key should start (after spaces). */
function key(s: string, i: number, n: number): number {
  if (i >= n || s.charCodeAt(i) !== C.Quote) return -1
  i = string(s, i, n)
  if (i < 0) return -1
  i = skipSpace(s, i, n)
  if (i >= n || s.charCodeAt(i) !== C.Colon) return -1
  return i + 1
}

/** true or false when sure; undefined when the nesting is too deep to follow here. */
function scan(s: string): boolean | undefined {
  const n = s.length
  let i = 0
  // Open containers: true for an object, false for an array.
  const stack: boolean[] = []
  for (;;) {
    // A value is expected here.
    i = skipSpace(s, i, n)
    if (i >= n) return false
    const c = s.charCodeAt(i)
    if (c === C.LeftBrace || c === C.LeftBracket) {
      if (stack.length >= MAX_DEPTH) return undefined
      const object = c === C.LeftBrace
      i = skipSpace(s, i + 1, n)
      if (i < n && s.charCodeAt(i) === (object ? C.RightBrace : C.RightBracket)) {
        i++ // an empty container: a complete value
      } else {
        stack.push(object)
        if (object) i = key(s, i, n)
        if (i < 0) return false
        continue
      }
    } else {
      i = scalar(s, i, n, c)
      if (i < 0) return false
    }
    // After a complete value: close containers, or a comma and the next member.
    for (;;) {
      i = skipSpace(s, i, n)
      if (stack.length === 0) return i === n
      if (i >= n) return false
      const object = stack[stack.length - 1]!
      const d = s.charCodeAt(i++)
      if (d === (object ? C.RightBrace : C.RightBracket)) {
        stack.pop()
        continue
      }
      if (d !== C.Comma) return false
      if (object) i = key(s, skipSpace(s, i, n), n)
      if (i < 0) return false
      break
    }
  }
}
