//! Hand-off templates: literal text and `{name}` placeholders, parsed once, rendered per send.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placeholder {
    RequestId,
    Language,
    PhoneNumberId,
    Url,
}

impl Placeholder {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::RequestId => "request_id",
            Self::Language => "language",
            Self::PhoneNumberId => "phone_number_id",
            Self::Url => "url",
        }
    }
}

/// A template split into literal text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Literal(String),
    Value(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template(pub(super) Vec<Piece>);

impl Template {
    /// Splits `text` at `{name}` placeholders (a name of lowercase letters, digits and `_`);
    /// any other brace is literal text. A name not in `known` is an error.
    pub(super) fn parse(text: &str, known: &[Placeholder]) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let (before, from_brace) = rest.split_at(start);
            literal.push_str(before);
            let after = from_brace.get(1..).unwrap_or("");
            let name_len = after
                .bytes()
                .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
                .count();
            let name = after.get(..name_len).unwrap_or("");
            if name_len == 0 || after.as_bytes().get(name_len) != Some(&b'}') {
                literal.push('{');
                rest = after;
                continue;
            }
            let Some(p) = known.iter().find(|p| p.name() == name) else {
                let names: Vec<String> =
                    known.iter().map(|p| format!("{{{}}}", p.name())).collect();
                return Err(format!(
                    "unknown placeholder `{{{name}}}` (known: {})",
                    names.join(", ")
                ));
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Value(*p));
            rest = after.get(name_len + 1..).unwrap_or("");
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Self(pieces))
    }

    pub(super) fn uses(&self, p: Placeholder) -> bool {
        self.0.contains(&Piece::Value(p))
    }

    /// The most characters a rendering can have, each placeholder rendered at its longest.
    pub(super) fn max_chars(&self, longest: &dyn Fn(Placeholder) -> usize) -> usize {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Literal(s) => s.chars().count(),
                Piece::Value(p) => longest(*p),
            })
            .sum()
    }

    /// The template with each placeholder replaced by `value(placeholder)`.
    pub(super) fn render(&self, value: &dyn Fn(Placeholder) -> String) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Literal(s) => s.clone(),
                Piece::Value(p) => value(*p),
            })
            .collect()
    }
}
