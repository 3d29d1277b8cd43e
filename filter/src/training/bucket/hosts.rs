//! The hosts each object store answers on.

/// S3's endpoints: `s3.amazonaws.com`, `s3.{region}.amazonaws.com`, `s3-{region}`,
/// `s3.dualstack.{region}`, `s3-fips`, `s3-accelerate`, `s3-external-1`, `.amazonaws.com.cn`,
/// and the PrivateLink interface endpoints (`bucket.vpce-{id}.s3.{region}.vpce.amazonaws.com`).
/// Only S3's own first labels count: `s3-scratch.s3.{region}.amazonaws.com` is a bucket.
pub(super) fn is_s3_endpoint(host: &str) -> bool {
    if let Some(rest) = host
        .strip_prefix("bucket.vpce-")
        .and_then(|r| r.strip_suffix(".vpce.amazonaws.com"))
    {
        let labels: Vec<&str> = rest.split('.').collect();
        return matches!(labels.as_slice(), [id, "s3", region] if dns_label(id) && is_region(region));
    }
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"));
    let Some(rest) = rest else {
        return false;
    };
    let mut labels = rest.split('.');
    let first = labels.next().unwrap_or_default();
    let s3_label = match first.strip_prefix("s3-") {
        None => first == "s3",
        Some(r) => matches!(r, "accelerate" | "fips" | "external-1") || is_region(r),
    };
    s3_label && labels.all(dns_label)
}

fn dns_label(l: &str) -> bool {
    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An AWS region: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    match parts.split_last() {
        Some((last, words)) => {
            words.len() >= 2
                && !last.is_empty()
                && last.bytes().all(|b| b.is_ascii_digit())
                && words
                    .iter()
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        }
        None => false,
    }
}

/// GCS's shared hosts: the global one, its mTLS host, the JSON API's and the XML API's legacy
/// hosts, regional endpoints.
pub(super) fn is_gcs_endpoint(host: &str) -> bool {
    matches!(
        host,
        "storage.googleapis.com"
            | "www.googleapis.com"
            | "storage.mtls.googleapis.com"
            | "commondatastorage.googleapis.com"
    ) || host
        .strip_prefix("storage.")
        .and_then(|r| r.strip_suffix(".rep.googleapis.com"))
        .is_some_and(|loc| !loc.is_empty() && !loc.contains('.'))
}

/// A GCS XML API virtual host of some bucket: `{bucket}.storage.googleapis.com`,
/// `{bucket}.commondatastorage.googleapis.com`.
pub(super) fn is_gcs_virtual_host(host: &str) -> bool {
    ["storage.googleapis.com", "commondatastorage.googleapis.com"]
        .iter()
        .any(|endpoint| {
            host.strip_suffix(endpoint)
                .and_then(|b| b.strip_suffix('.'))
                .is_some_and(|b| !b.is_empty())
        })
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

/// Whether a request to `{account}.…` reaches the Data Lake endpoint (`Some(true)`), the Blob
/// endpoint (`Some(false)`), or a host the policy adds, which may be either (`None`).
pub(super) fn is_dfs_host(host: &str, account: &str) -> Option<bool> {
    let rest = host.strip_prefix(account)?.strip_prefix('.')?;
    if !is_azure_endpoint(rest) {
        return None;
    }
    let rest = rest.strip_prefix("privatelink.").unwrap_or(rest);
    Some(
        rest.starts_with("dfs.")
            || rest
                .split_once('.')
                .is_some_and(|(_, r)| r == "dfs.storage.azure.net"),
    )
}
