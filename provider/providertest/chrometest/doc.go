// Package chrometest runs a headless Chromium for browser tests: real
// pages with their JavaScript, CSP and storage, driven through a few
// readable helpers (go to, wait for text, type, click).
//
// Without a Chromium on PATH the tests skip with a message, unless
// LATCHKEY_TEST_BROWSER=required (CI), where they fail.
package chrometest
