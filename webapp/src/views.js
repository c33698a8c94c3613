/**
 * The page's two views, picked by the URL's hash: the epicrisis (the default, and #/documento/ID)
 * and the translation (#traduccion). Both live in this one page, so they share its API key, its
 * service worker and its Content-Security-Policy. The hash names a view or a document id, never
 * patient data.
 */
export const TRANSLATION_HASH = '#traduccion';
const TITLES = { epicrisis: 'Alta · Epicrisis', traduccion: 'Alta · Traducción' };

export function viewFor(hash) {
  return hash === TRANSLATION_HASH ? 'traduccion' : 'epicrisis';
}

/** Puts the epicrisis view at ``hash``: at once when it is on screen, else when its tab is next clicked. */
export function showInEpicrisis(hash) {
  if (viewFor(location.hash) === 'epicrisis') location.hash = hash;
  else document.getElementById('nav-epicrisis').href = hash;
}

function show() {
  const view = viewFor(location.hash);
  document.body.dataset.view = view;
  document.title = TITLES[view];
  for (const link of document.querySelectorAll('nav.views a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // The epicrisis tab leads back to the document last shown there (#/documento/ID).
  if (view === 'epicrisis' && location.hash) document.getElementById('nav-epicrisis').href = location.hash;
}

export function setupViews() {
  window.addEventListener('hashchange', show);
  show();
}
