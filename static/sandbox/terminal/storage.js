/* Browser storage; either may be unavailable (private modes, sandboxed frames). */

export function storageGet(storage, key) {
  try {
    return window[storage].getItem(key);
  } catch (e) {
    return null;
  }
}

export function storageSet(storage, key, value) {
  try {
    window[storage].setItem(key, value);
  } catch (e) {
    /* not kept: the feature still works for this page */
  }
}
