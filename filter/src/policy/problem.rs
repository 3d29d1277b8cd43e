//! What a refused configuration reports: every problem, each at its JSON path.

use std::fmt;

/// One problem in a policy, at a JSON path such as `$.origins[2].identities[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.message)
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON: {0}")]
    Syntax(String),
    #[error("policy has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

impl PolicyError {
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::Syntax(m) => vec![Problem {
                path: "$".into(),
                message: m.clone(),
            }],
            Self::Invalid(p) => p.clone(),
        }
    }
}
