// Dates on the portal's pages are shown in the reader's time zone when the browser says which:
// this keeps the browser's zone in a cookie the server reads (and checks against its own list
// of zones). Without JavaScript, or on the first page, dates are in the portal's zone, named.
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
})();
