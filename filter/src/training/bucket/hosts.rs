//! The hosts each object store answers on.

/// S3's endpoints: `s3.amazonaws.com`, `s3.{region}.amazonaws.com`, `s3-{region}`,
/// `s3.dualstack.{region}`, `s3-fips`, `s3-accelerate`, `s3-external-1`, and `.amazonaws.com.cn`.
pub(super) fn is_s3_endpoint(host: &str) -> bool {
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"));
    let Some(rest) = rest else {
        return false;
    };
    let mut labels = rest.split('.');
    let first = labels.next().unwrap_or_default();
    (first == "s3" || first.starts_with("s3-"))
        && labels
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// GCS's shared hosts: the global one, the JSON API's legacy host, regional endpoints.
pub(super) fn is_gcs_endpoint(host: &str) -> bool {
    matches!(host, "storage.googleapis.com" | "www.googleapis.com")
        || host
            .strip_prefix("storage.")
            .and_then(|r| r.strip_suffix(".rep.googleapis.com"))
            .is_some_and(|loc| !loc.is_empty() && !loc.contains('.'))
}

/// Blob storage endpoints after `{account}.`: public and sovereign clouds, private links, DNS
/// zone endpoints (`z01.blob.storage.azure.net`) and the Data Lake endpoint.
pub(super) fn is_azure_endpoint(rest: &str) -> bool {
    let rest = rest.strip_prefix("privatelink.").unwrap_or(rest);
    let service = ["blob.", "dfs."].iter().find_map(|s| rest.strip_prefix(s));
    let cloud = |c: &str| {
        matches!(
            c,
            "core.windows.net" | "core.usgovcloudapi.net" | "core.chinacloudapi.cn"
        )
    };
    if service.is_some_and(cloud) {
        return true;
    }
    rest.split_once('.').is_some_and(|(zone, r)| {
        zone.starts_with('z')
            && zone.len() <= 4
            && matches!(r, "blob.storage.azure.net" | "dfs.storage.azure.net")
    })
}
