// Text from connectors, shown as text. A log line is whatever a connector (and the
// service it read) wrote: terminal escape codes are taken out so they cannot recolour,
// move or retitle anything, and the remaining control and direction-changing characters
// are shown as visible symbols, so what is on screen is what is in the line.

// CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), the other ESC sequences, and their
// one-byte C1 forms.
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[PX^_][^\u001b]*(?:\u001b\\)?|\u001b[ -/]*[0-~]?|\u009b[0-?]*[ -/]*[@-~]|\u009d[^\u0007\u009c]*[\u0007\u009c]?/g;

// C0 and C1 controls other than tab and newline; DEL.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

// Characters that reorder the text around them ("Trojan Source").
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

/** `text` with escape codes removed and other invisible controls made visible. */
export function plain(text) {
  return String(text ?? '')
    .replace(ESCAPES, '')
    .replace(CONTROLS, (c) => {
      const code = c.charCodeAt(0);
      return code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? '\u2421' : '\ufffd';
    })
    .replace(BIDI, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
}
