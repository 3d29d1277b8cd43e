//! The naming rules of each object store, checked when the policy loads: a bucket the service
//! could never have is a typo, and a typo in a training path is a hole.

/// S3 general purpose bucket names: 3 to 63 lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit, no `..`, not an IP address, no `xn--` or
/// `sthree-` prefix and no `.mrap` or `--x-s3` suffix. An access point alias (`-s3alias`,
/// `--ol-s3`) is accepted: requests name it where they would name the bucket.
pub fn s3_bucket(name: &str) -> Option<String> {
    let bad = |why: &str| Some(format!("invalid S3 bucket name `{name}`: {why}"));
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("only lowercase letters, digits, `.` and `-` are allowed");
    }
    if let Some(why) = common(name) {
        return bad(why);
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || [".mrap", "--x-s3"].iter().any(|s| name.ends_with(s))
    {
        return bad("the prefix or suffix is reserved by S3");
    }
    None
}

/// GCS bucket names: lowercase letters, digits, `-`, `_` and `.`, starting and ending with a
/// letter or digit; 3 to 63 characters, or up to 222 with dots and each dot-separated part at
/// most 63; not an IP address, not starting with `goog` nor holding `google`.
pub fn gcs_bucket(name: &str) -> Option<String> {
    let bad = |why: &str| Some(format!("invalid GCS bucket name `{name}`: {why}"));
    let max = if name.contains('.') { 222 } else { 63 };
    if name.len() < 3 || name.len() > max || name.split('.').any(|p| p.len() > 63) {
        return bad("must be 3 to 63 characters long (222 with dots, 63 between dots)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
    {
        return bad("only lowercase letters, digits, `-`, `_` and `.` are allowed");
    }
    if let Some(why) = common(name) {
        return bad(why);
    }
    if name.starts_with("goog") || name.contains("google") || name.contains("g00gle") {
        return bad("names starting with `goog` or holding `google` are reserved");
    }
    None
}

/// Azure storage account names: 3 to 24 lowercase letters and digits.
pub fn azure_account(name: &str) -> Option<String> {
    if (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return None;
    }
    Some(format!(
        "invalid Azure storage account name `{name}`: 3 to 24 lowercase letters and digits"
    ))
}

/// Azure container names: `$root`, or 3 to 63 lowercase letters, digits and single hyphens,
/// starting and ending with a letter or digit.
pub fn azure_container(name: &str) -> Option<String> {
    if name == "$root" {
        return None;
    }
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        return None;
    }
    Some(format!(
        "invalid Azure container name `{name}`: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit"
    ))
}

/// Rules S3 and GCS share: letter or digit at both ends, no `..`, not an IPv4 address.
fn common(name: &str) -> Option<&'static str> {
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !alnum(name.bytes().next()) || !alnum(name.bytes().last()) {
        return Some("must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("must not hold `..`");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("must not be an IP address");
    }
    None
}
