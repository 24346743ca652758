// The swatch beside a colour field shows the colour being typed. The Content-Security-Policy
// forbids inline styles, not the CSSOM: the swatch's --brand property is set from here. Without
// JavaScript the swatch keeps the saved colour that brands.css gives it.
(function () {
  var colour = /^#[0-9a-fA-F]{6}$/;
  document.querySelectorAll("[data-swatch-for]").forEach(function (swatch) {
    var field = document.getElementById(swatch.getAttribute("data-swatch-for"));
    if (!field) {
      return;
    }
    function show() {
      var value = field.value.trim();
      if (colour.test(value)) {
        swatch.style.setProperty("--brand", value);
        swatch.hidden = false;
      }
    }
    field.addEventListener("input", show);
    show();
  });
})();
