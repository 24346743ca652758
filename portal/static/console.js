// The console's menu is open by default (and so without JavaScript); on a narrow screen it
// starts closed, behind its "Menu" button, so the page's content comes first.
(function () {
  var menu = document.getElementById("console-nav");
  if (menu && window.matchMedia("(max-width: 56rem)").matches) {
    menu.open = false;
  }
})();
