// Tells the server the browser's time zone, so pages show times in it.
(function () {
  try {
    var z = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!z) return;
    var c = "latchkey_tz=" + encodeURIComponent(z) + "; path=/; max-age=31536000; samesite=lax";
    if (location.protocol === "https:") c += "; secure";
    if (document.cookie.indexOf("latchkey_tz=" + encodeURIComponent(z)) < 0) document.cookie = c;
  } catch (e) { /* no Intl: times stay in UTC and say so */ }
})();
