#!/bin/sh
# Prints docs/screenshots/README.md: every screenshot the browser walks saved
# (run from anywhere; see the README's Gallery for the command that makes them).
cd "$(dirname "$0")" || exit 1
echo "# Screenshots"
echo
echo "Made by the browser walks in ./plugin/journeys/ (README, Gallery: the command). Do not edit: regenerate"
echo "with \`docs/screenshots/index.sh > docs/screenshots/README.md\`."
echo
echo "## TestPageWalk (1280 px desktop, 390 px phone; English, two pages in Arabic)"
echo
echo "| page | desktop | phone |"
echo "|---|---|---|"
for f in *-desktop.png; do
	p=${f%-desktop.png}
	echo "| $p | [desktop]($f) | [phone]($p-phone.png) |"
done
echo
echo "## TestBrowserJourneys (every journey at 1280 px and 390 px, English and German)"
echo
echo "| page | desktop, en | desktop, de | phone, en | phone, de |"
echo "|---|---|---|---|---|"
for f in journeys/*-desktop-en.png; do
	p=${f#journeys/}
	p=${p%-desktop-en.png}
	echo "| $p | [en](journeys/$p-desktop-en.png) | [de](journeys/$p-desktop-de.png) | [en](journeys/$p-phone-en.png) | [de](journeys/$p-phone-de.png) |"
done
