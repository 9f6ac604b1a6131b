//! The device label: a small table-driven reading of a user agent.
//!
//! Not a full user-agent parser: the first matching row of each table wins, so the order
//! matters (every Chromium-based browser also says `Chrome/`, Chrome also says `Safari/`,
//! Android also says `Linux`).

/// The label of a user agent nothing in the tables matches (or of none at all).
pub const UNKNOWN_DEVICE: &str = "Unknown device";

/// HTTP tools and libraries, recognised by how the user agent starts; their label is the
/// name alone.
const TOOLS: &[(&str, &str)] = &[
    ("curl/", "curl"),
    ("Wget/", "Wget"),
    ("HTTPie/", "HTTPie"),
    ("PostmanRuntime/", "Postman"),
    ("python-requests/", "Python requests"),
    ("python-httpx/", "Python httpx"),
    ("Python-urllib/", "Python urllib"),
    ("aiohttp/", "Python aiohttp"),
    ("okhttp/", "OkHttp"),
    ("Go-http-client/", "Go HTTP client"),
    ("reqwest/", "reqwest"),
    ("node-fetch", "node-fetch"),
    ("axios/", "axios"),
    ("Java/", "Java"),
];

/// Browsers: the first row with a marker found anywhere in the user agent.
const BROWSERS: &[(&[&str], &str)] = &[
    (&["Edg/", "EdgA/", "EdgiOS/", "Edge/"], "Edge"),
    (&["OPR/", "OPiOS/", "Opera"], "Opera"),
    (&["SamsungBrowser/"], "Samsung Internet"),
    (&["YaBrowser/"], "Yandex Browser"),
    (&["Vivaldi/"], "Vivaldi"),
    (&["Firefox/", "FxiOS/"], "Firefox"),
    (&["Chromium/"], "Chromium"),
    (&["Chrome/", "CriOS/"], "Chrome"),
    (&["MSIE ", "Trident/"], "Internet Explorer"),
    (&["Safari/"], "Safari"),
];

/// Operating systems: the first row with a marker found anywhere in the user agent.
const SYSTEMS: &[(&[&str], &str)] = &[
    (&["Windows Phone"], "Windows Phone"),
    (&["Windows"], "Windows"),
    (&["iPhone", "iPad", "iPod"], "iOS"),
    (&["Android"], "Android"),
    (&["CrOS"], "ChromeOS"),
    (&["Macintosh", "Mac OS X"], "macOS"),
    (&["FreeBSD"], "FreeBSD"),
    (&["OpenBSD"], "OpenBSD"),
    (&["Linux", "X11"], "Linux"),
];

/// The short device label of a user agent: "Browser on OS" ("Firefox on Linux", "Safari
/// on iOS"), the browser or "Unknown browser on OS" when only one is known, the tool's
/// name for common HTTP tools ("curl", "Python requests"), else [`UNKNOWN_DEVICE`].
///
/// | reads | as |
/// | --- | --- |
/// | `Edg/`, `OPR/`, `SamsungBrowser/`, `YaBrowser/`, `Vivaldi/`, `Firefox/` (`FxiOS/`), `Chromium/`, `Chrome/` (`CriOS/`), `MSIE`/`Trident/`, `Safari/` | Edge, Opera, Samsung Internet, Yandex Browser, Vivaldi, Firefox, Chromium, Chrome, Internet Explorer, Safari |
/// | `Windows Phone`, `Windows`, `iPhone`/`iPad`/`iPod`, `Android`, `CrOS`, `Macintosh`, `FreeBSD`, `OpenBSD`, `Linux`/`X11` | Windows Phone, Windows, iOS, Android, ChromeOS, macOS, FreeBSD, OpenBSD, Linux |
/// | starts with `curl/`, `Wget/`, `HTTPie/`, `PostmanRuntime/`, `python-requests/`, `python-httpx/`, `Python-urllib/`, `aiohttp/`, `okhttp/`, `Go-http-client/`, `reqwest/`, `node-fetch`, `axios/`, `Java/` | the tool's name |
///
/// ```
/// use sessionkit_core::device::device_label;
///
/// let safari_ios = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
///     (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
/// assert_eq!(device_label(Some(safari_ios)), "Safari on iOS");
/// assert_eq!(device_label(Some("curl/8.5.0")), "curl");
/// assert_eq!(device_label(Some("something/1.0")), "Unknown device");
/// assert_eq!(device_label(None), "Unknown device");
/// ```
pub fn device_label(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else {
        return UNKNOWN_DEVICE.to_owned();
    };
    if let Some((_, tool)) = TOOLS.iter().find(|(prefix, _)| ua.starts_with(prefix)) {
        return (*tool).to_owned();
    }
    let find = |table: &[(&[&str], &'static str)]| {
        table
            .iter()
            .find(|(markers, _)| markers.iter().any(|m| ua.contains(m)))
            .map(|(_, name)| *name)
    };
    match (find(BROWSERS), find(SYSTEMS)) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(os)) => format!("Unknown browser on {os}"),
        (None, None) => UNKNOWN_DEVICE.to_owned(),
    }
}
