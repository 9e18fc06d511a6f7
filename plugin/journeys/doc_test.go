// Package journeys_test walks headless Chromium through every page of
// Latchkey's sign-in, registration, Security info and recovery journeys,
// checking each page (axe-core, contrast, widths, weight) and saving the
// screenshots of the gallery. It is a package of its own so that these
// slow walks run beside the plugin's other tests, each within go test's
// default time limit.
package journeys_test
