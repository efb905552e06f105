// Building the page from data. Everything a connector, a service or a person typed goes
// in as a text node or an attribute value, never as HTML: the page has no innerHTML, and
// its Content-Security-Policy (Trusted Types) would refuse one.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'hidden']);

/**
 * An element: `h('a', { href: '/x', class: 'link', on: { click } }, 'text', child)`.
 * Strings and numbers among the children become text; null, undefined and false are
 * skipped; arrays are flattened.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name === 'href') {
      element.setAttribute('href', safeHref(String(value)));
    } else if (PROPERTIES.has(name)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children (text, nodes, arrays of them) to `parent`. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces everything inside `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Links go to this console or to http(s) pages; anything else (javascript:, data:) is dropped. */
function safeHref(href) {
  if (href.startsWith('/') && !href.startsWith('//')) return href;
  if (href.startsWith('#') || href.startsWith('?')) return href;
  if (/^https?:\/\//i.test(href)) return href;
  return '#';
}

/** An error box for a failed call; `role=alert` so screen readers announce it. */
export function errorBox(error, prefix) {
  const text = error && error.message ? error.message : String(error);
  return h('p', { class: 'error', role: 'alert' }, prefix ? `${prefix}: ${text}` : text);
}

/** A paragraph for a list with nothing in it, saying what would be here and how to get some. */
export function empty(...children) {
  return h('div', { class: 'empty' }, ...children);
}

/** A labelled form field. */
export function field(label, control, help) {
  return h('label', { class: 'field' },
    h('span', { class: 'label' }, label),
    control,
    help ? h('span', { class: 'help' }, help) : null);
}

/** A short message that fades, for "link copied" and the like. */
export function toast(text) {
  const note = h('div', { class: 'toast', role: 'status' }, text);
  document.body.append(note);
  setTimeout(() => note.remove(), 2500);
}
