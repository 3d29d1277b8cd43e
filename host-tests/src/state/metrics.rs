//! Metrics defined by the guest (`proxy_define_metric` and friends), readable by name.

use std::collections::BTreeMap;

use crate::abi::{MetricKind, Status};

/// At most this many histogram samples are kept per metric (the count keeps growing).
const MAX_SAMPLES: usize = 100_000;

/// The current value of one metric. Envoy shows it as `wasmcustom.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricValue {
    pub kind: MetricKind,
    /// Counter or gauge value; for a histogram, the number of recorded samples.
    pub value: u64,
    /// Histogram samples (the first [`MAX_SAMPLES`]); empty for counters and gauges.
    pub samples: Vec<u64>,
}

/// One change the guest made, in call order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricEvent {
    pub name: String,
    pub kind: MetricKind,
    pub change: MetricChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricChange {
    Increment(i64),
    Record(u64),
}

/// Every metric of one VM, plus the changes not yet collected into an outcome.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Metric id - 1 → name.
    ids: Vec<String>,
    values: BTreeMap<String, MetricValue>,
    pub(crate) events: Vec<MetricEvent>,
}

impl Metrics {
    /// Define (or look up) a metric; Envoy hands out a fresh id per call for the same stat.
    pub(crate) fn define(&mut self, kind: MetricKind, name: String) -> Result<u32, Status> {
        match self.values.get(&name) {
            Some(existing) if existing.kind != kind => return Err(Status::BadArgument),
            Some(_) => {}
            None => {
                self.values.insert(
                    name.clone(),
                    MetricValue {
                        kind,
                        value: 0,
                        samples: Vec::new(),
                    },
                );
            }
        }
        self.ids.push(name);
        u32::try_from(self.ids.len()).map_err(|_| Status::InternalFailure)
    }

    fn by_id(&mut self, id: u32) -> Result<(&String, &mut MetricValue), Status> {
        let index = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .ok_or(Status::NotFound)?;
        let name = self.ids.get(index).ok_or(Status::NotFound)?;
        let value = self.values.get_mut(name).ok_or(Status::NotFound)?;
        Ok((name, value))
    }

    pub(crate) fn increment(&mut self, id: u32, offset: i64) -> Result<(), Status> {
        let (name, metric) = self.by_id(id)?;
        match metric.kind {
            MetricKind::Counter if offset < 0 => return Err(Status::BadArgument),
            MetricKind::Histogram => return Err(Status::BadArgument),
            MetricKind::Counter | MetricKind::Gauge => {
                metric.value = if offset >= 0 {
                    metric.value.saturating_add(offset.unsigned_abs())
                } else {
                    metric.value.saturating_sub(offset.unsigned_abs())
                };
            }
        }
        let event = MetricEvent {
            name: name.clone(),
            kind: metric.kind,
            change: MetricChange::Increment(offset),
        };
        self.events.push(event);
        Ok(())
    }

    pub(crate) fn record(&mut self, id: u32, value: u64) -> Result<(), Status> {
        let (name, metric) = self.by_id(id)?;
        match metric.kind {
            MetricKind::Counter => metric.value = metric.value.saturating_add(value),
            MetricKind::Gauge => metric.value = value,
            MetricKind::Histogram => {
                metric.value = metric.value.saturating_add(1);
                if metric.samples.len() < MAX_SAMPLES {
                    metric.samples.push(value);
                }
            }
        }
        let event = MetricEvent {
            name: name.clone(),
            kind: metric.kind,
            change: MetricChange::Record(value),
        };
        self.events.push(event);
        Ok(())
    }

    pub(crate) fn read(&mut self, id: u32) -> Result<u64, Status> {
        let (_, metric) = self.by_id(id)?;
        match metric.kind {
            MetricKind::Histogram => Err(Status::BadArgument),
            MetricKind::Counter | MetricKind::Gauge => Ok(metric.value),
        }
    }

    /// Value of a counter or gauge (sample count of a histogram) by the name the guest defined.
    pub fn value(&self, name: &str) -> Option<u64> {
        self.values.get(name).map(|m| m.value)
    }

    pub fn get(&self, name: &str) -> Option<&MetricValue> {
        self.values.get(name)
    }

    /// All metrics by name.
    pub fn all(&self) -> &BTreeMap<String, MetricValue> {
        &self.values
    }

    /// Metrics whose name starts with `prefix`, with their values.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        self.values
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.value))
    }
}
