//! wa-egress-guard (skeleton, replaced in the next commit)
