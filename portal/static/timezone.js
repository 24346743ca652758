// Dates on the portal's pages are shown in the reader's time zone when the browser says which:
// this keeps the browser's zone in a cookie the server reads (and checks against its own list
// of zones). On a browser's first page (no cookie yet, or another zone since), the server
// used the portal's zone: the dates it wrote in <time datetime> elements are written again
// here in the browser's zone, named. Without JavaScript they stay in the zone the server
// used, which each date names. An admin's own choice (My account) is left as it is.
(function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  // IANA names ("Europe/Paris", "America/Argentina/Buenos_Aires") are all cookie-safe.
  if (!zone || !/^[A-Za-z0-9_+\/-]+$/.test(zone) || document.cookie.split("; ").indexOf("tz=" + zone) !== -1) {
    return;
  }
  var secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "tz=" + zone + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;

  function rewrite() {
    var root = document.documentElement;
    if (root.getAttribute("data-time-zone") === "chosen") {
      return;
    }
    var format;
    try {
      format = new Intl.DateTimeFormat(root.lang || undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
        timeZone: zone, timeZoneName: "short"
      });
    } catch (e) {
      return;
    }
    var moments = document.querySelectorAll("time[data-moment][datetime]");
    for (var i = 0; i < moments.length; i++) {
      var moment = new Date(moments[i].getAttribute("datetime"));
      if (!isNaN(moment.getTime())) {
        moments[i].textContent = format.format(moment);
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", rewrite);
  } else {
    rewrite();
  }
  // Dates htmx swaps in were written with the cookie already set: in the browser's zone.
})();
