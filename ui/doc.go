// Package ui holds every page template and static asset, embedded in the
// binary. Pages are plain HTML that work without JavaScript; their words
// come from the message catalogs in ui/locales through the template
// functions t and tn (package ui/i18n), in the language chosen for the
// request.
package ui
