//! The root context: the policy compiled on configure and shared by every request of the VM,
//! metric ids defined on first use, and the node's properties read once.

use super::*;

/// Metric ids by full name, defined on first use and shared by every context of the VM.
#[derive(Default)]
pub(super) struct Metrics {
    ids: HashMap<String, u32>,
}

impl Metrics {
    pub(super) fn increment(&mut self, name: &str) {
        self.add(name, 1);
    }

    pub(super) fn add(&mut self, name: &str, amount: u64) {
        let id = match self.ids.get(name) {
            Some(id) => *id,
            None => match abi::define_counter(name) {
                Ok(id) => {
                    self.ids.insert(name.to_owned(), id);
                    id
                }
                Err(status) => {
                    abi::log(
                        LogLevel::Warn,
                        &format!(
                            "wa-egress-guard: cannot define metric `{name}` (status {status})"
                        ),
                    );
                    return;
                }
            },
        };
        let _ = abi::increment(id, i64::try_from(amount).unwrap_or(i64::MAX));
    }
}

#[derive(Default)]
pub(super) struct GuardRoot {
    policy: Option<Rc<Policy>>,
    metrics: Rc<RefCell<Metrics>>,
    node: Rc<RefCell<NodeProperties>>,
}

impl Context for GuardRoot {}

impl RootContext for GuardRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = match abi::buffer(abi::BUFFER_PLUGIN_CONFIGURATION, 0, size) {
            Ok(Some(b)) => b,
            Ok(None) => Vec::new(),
            Err(status) => {
                abi::log(
                    LogLevel::Error,
                    &format!(
                        "wa-egress-guard: cannot read the plugin configuration (status {status})"
                    ),
                );
                return false;
            }
        };
        match Policy::from_json(&bytes) {
            Ok(mut policy) => {
                if let Some(webhook) = policy.webhook.as_mut() {
                    // The VM's environment: Envoy's `vm_config.environment_variables`.
                    if let Err(err) = webhook.resolve_environment(&|name| std::env::var(name).ok())
                    {
                        abi::log(
                            LogLevel::Error,
                            &format!("wa-egress-guard: invalid policy: {err}"),
                        );
                        self.metrics
                            .borrow_mut()
                            .increment("wa_guard_config_loads_total.result.rejected");
                        return false;
                    }
                }
                abi::log(
                    LogLevel::Info,
                    &format!(
                        "wa-egress-guard: policy {} loaded: {} origin(s), {} phone-number rule(s), {} content rule(s), mode {:?}",
                        policy.fingerprint,
                        policy.origins.len(),
                        policy.numbers.len(),
                        policy.content.classifier.rule_count(),
                        policy.mode
                    ),
                );
                if policy.log.recipient_hash_salt.is_empty() {
                    abi::log(
                        LogLevel::Warn,
                        "wa-egress-guard: `log.recipient_hash_salt` is empty: decision logs leave out `recipient_hash` (an unsalted hash of a phone number is reversed by hashing candidate numbers); set a per-deployment secret to join logs by recipient",
                    );
                }
                self.policy = Some(Rc::new(policy));
                self.metrics
                    .borrow_mut()
                    .increment("wa_guard_config_loads_total.result.ok");
                true
            }
            Err(err) => {
                for problem in err.problems() {
                    abi::log(
                        LogLevel::Error,
                        &format!("wa-egress-guard: invalid policy: {problem}"),
                    );
                }
                self.metrics
                    .borrow_mut()
                    .increment("wa_guard_config_loads_total.result.rejected");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(GuardHttp {
            policy: self.policy.clone(),
            metrics: Rc::clone(&self.metrics),
            node: Rc::clone(&self.node),
            flow: None,
            webhook: None,
            reading_response: false,
        }))
    }
}
