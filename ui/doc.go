// Package ui holds every page template and static asset, embedded in the
// binary. Pages are plain HTML that work without JavaScript; all user-facing
// text lives here so it can move to message catalogs later.
package ui
