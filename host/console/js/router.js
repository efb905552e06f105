// Which page a path shows, and moving between pages without reloading: links inside the
// console change the address and draw the new page; Back and Forward work as usual.

const routes = [];
let current = null;
let drawPage = null;

/** Registers a page for paths matching `pattern` (named groups become parameters). */
export function route(pattern, page) {
  routes.push([pattern, page]);
}

/** The page for a path and its parameters, or null. */
export function match(path) {
  for (const [pattern, page] of routes) {
    const found = pattern.exec(path);
    if (found) {
      const params = {};
      for (const [name, value] of Object.entries(found.groups || {})) params[name] = decodeURIComponent(value);
      return { page, params };
    }
  }
  return null;
}

/** Goes to `url` (a path with its query); `replace` keeps Back from returning here. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  return show();
}

/** Draws the page of the current address; the previous page's work (streams, timers) stops. */
export function show() {
  if (current) current.abort();
  current = new AbortController();
  return drawPage(current.signal);
}

/** Starts routing: `draw(signal)` draws the current address. */
export function start(draw) {
  drawPage = draw;
  window.addEventListener('popstate', () => show());
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest('a[href]');
    if (!link || link.target || link.hasAttribute('download')) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  return show();
}
