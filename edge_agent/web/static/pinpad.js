// PIN pad of the touchscreen: keys write into the read-only field, so no on-screen keyboard.
document.addEventListener("DOMContentLoaded", function () {
  var pin = document.getElementById("pin");
  if (!pin) return;
  document.querySelectorAll("#pinpad .key").forEach(function (key) {
    key.addEventListener("click", function () {
      var k = key.getAttribute("data-key");
      if (k === "del") pin.value = pin.value.slice(0, -1);
      else if (k === "clear") pin.value = "";
      else if (pin.value.length < 8) pin.value += k;
    });
  });
});
