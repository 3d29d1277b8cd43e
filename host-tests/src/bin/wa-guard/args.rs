//! The command line's words, read the same way by every subcommand: `-` and words without a
//! leading dash are operands, every other word is a flag, and a flag's value is the next word.

use host_tests::component::Attribute;

use crate::Fatal;

/// One word of a subcommand's arguments.
pub enum Arg {
    /// `--format`, `-o`: look its value up with [`Args::value`].
    Flag(String),
    /// A file name, or `-` for standard input.
    Operand(String),
}

pub struct Args(std::vec::IntoIter<String>);

impl Args {
    pub fn new(words: Vec<String>) -> Self {
        Self(words.into_iter())
    }

    /// The value of `flag`: the next word, whatever it is.
    pub fn value(&mut self, flag: &str) -> Result<String, Fatal> {
        self.0
            .next()
            .ok_or_else(|| Fatal(format!("`{flag}` needs a value")))
    }
}

impl Iterator for Args {
    type Item = Arg;

    fn next(&mut self) -> Option<Arg> {
        self.0.next().map(|word| {
            if word.starts_with('-') && word != "-" {
                Arg::Flag(word)
            } else {
                Arg::Operand(word)
            }
        })
    }
}

/// The error for a flag the subcommand does not know.
pub fn unknown(flag: &str) -> Fatal {
    Fatal(format!("unknown option `{flag}` (see --help)"))
}

/// `text` or `json`, the value of `flag`: whether the output is JSON.
pub fn text_or_json(flag: &str, value: &str) -> Result<bool, Fatal> {
    match value {
        "json" => Ok(true),
        "text" => Ok(false),
        other => Err(Fatal(format!(
            "`{flag} {other}`: unknown format (text or json)"
        ))),
    }
}

/// `--peer ADDR`: the downstream peer's address, as Envoy's `source.address`.
pub fn peer(address: String) -> Attribute {
    Attribute {
        name: "source.address".into(),
        value: address.into_bytes(),
    }
}

/// `--attr NAME=VALUE`: one request attribute; the name cannot be empty.
pub fn attribute(pair: &str) -> Result<Attribute, Fatal> {
    let (name, value) = pair
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| Fatal(format!("`--attr {pair}`: write NAME=VALUE")))?;
    Ok(Attribute {
        name: name.into(),
        value: value.as_bytes().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn a_dash_alone_is_an_operand_and_a_value_is_the_next_word() {
        let mut args = Args::new(words("--format - file --out -x"));
        let Some(Arg::Flag(f)) = args.next() else {
            panic!("a flag first")
        };
        assert_eq!(f, "--format");
        assert_eq!(args.value(&f).ok().as_deref(), Some("-"));
        assert!(matches!(args.next(), Some(Arg::Operand(w)) if w == "file"));
        assert!(matches!(args.next(), Some(Arg::Flag(w)) if w == "--out"));
        assert_eq!(args.value("--out").ok().as_deref(), Some("-x"));
        assert!(args.value("--out").is_err());
    }

    #[test]
    fn attributes_need_a_name() {
        assert!(attribute("=v").is_err());
        assert!(attribute("novalue").is_err());
        let a = attribute("connection.uri_san_peer_certificate=spiffe://x/y=z").ok();
        assert_eq!(
            a.map(|a| (a.name, a.value)),
            Some((
                "connection.uri_san_peer_certificate".to_owned(),
                b"spiffe://x/y=z".to_vec()
            ))
        );
        assert!(text_or_json("--format", "yaml").is_err());
    }
}
