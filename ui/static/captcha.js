// "Play again" for the built-in CAPTCHA's sound: plays the same digits
// from the start. Without JavaScript the audio element's own controls
// play and replay it, so the button only appears when it works.
(function () {
  var audio = document.getElementById("captcha-audio");
  var again = document.getElementById("captcha-replay");
  if (!audio || !again || !audio.play) return;
  again.hidden = false;
  again.addEventListener("click", function () {
    audio.currentTime = 0;
    var p = audio.play();
    if (p && p.catch) p.catch(function () {});
  });
})();
