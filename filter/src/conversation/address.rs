//! A send's address as conversations read it: a phone number or a business-scoped user id, the
//! two shapes Meta's Cloud API takes (`to`; `recipient`, the newer user id). Anything else is
//! no address a conversation can be keyed by: a spelling Meta may read as a number the filter
//! would key apart (`34600123456x`), or an id of a kind the reference does not list, would
//! otherwise open a fresh conversation with a fresh budget.

use super::StateFailure;

/// The most digits of an international number (E.164).
const MAX_NUMBER_DIGITS: usize = 15;
/// The fewest digits of an international number with its country code (`+683 4002`, Niue).
const MIN_NUMBER_DIGITS: usize = 7;
/// The most characters of a business-scoped user id after its country prefix.
const MAX_USER_ID_CHARS: usize = 128;

/// A recipient's address, as conversations key it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A phone number: its digits with the country code, without a `00` international prefix.
    Number(String),
    /// A business-scoped user id (`US.13491208655302741918`, a parent's `US.ENT.1181...`): its
    /// ASCII letters lowercased and its digits.
    UserId(String),
}

impl Address {
    /// What the conversation's hash is taken over: `34612345678`, `us13491208655302741918`.
    pub fn key(&self) -> &str {
        match self {
            Self::Number(k) | Self::UserId(k) => k,
        }
    }
}

/// Reads a recipient: a phone number written with a `+` before its digits, blanks (invisible ones too), `-`, `.`
/// and brackets, with or without a leading `00` (`+34 612 345 678`, `0034612345678` and Meta's
/// `34612345678` are one number), of 7 to 15 digits; or a business-scoped user id (two letters
/// of a country, `.`, optionally `ENT.`, then 1 to 128 ASCII letters and digits). A digit or
/// letter outside ASCII (`٣٤٦...`, a full-width digit) is [`StateFailure::UnreadableRecipient`]
/// (never collapsed into another recipient); any other shape, such as a number with a letter or
/// a `#` in it, a `whatsapp:` address or a group id, is [`StateFailure::InvalidRecipient`].
pub fn address(recipient: &str) -> Result<Address, StateFailure> {
    if recipient
        .chars()
        .any(|c| c.is_alphanumeric() && !c.is_ascii())
    {
        return Err(StateFailure::UnreadableRecipient);
    }
    let text = recipient.trim_matches(is_blank);
    phone_number(text)
        .or_else(|| user_id(text))
        .ok_or(StateFailure::InvalidRecipient)
}

fn is_blank(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

fn phone_number(text: &str) -> Option<Address> {
    let mut digits = String::new();
    let mut plus = false;
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            // One `+`, before the first digit (`+34`, `(+34)`).
            '+' if !plus && digits.is_empty() => plus = true,
            '-' | '.' | '(' | ')' => {}
            c if is_blank(c) => {}
            _ => return None,
        }
    }
    let digits = match digits.strip_prefix("00") {
        Some(international) => international.to_owned(),
        None => digits,
    };
    (MIN_NUMBER_DIGITS..=MAX_NUMBER_DIGITS)
        .contains(&digits.len())
        .then_some(Address::Number(digits))
}

fn user_id(text: &str) -> Option<Address> {
    let (country, id) = text.split_once('.')?;
    let id = id
        .strip_prefix("ENT.")
        .or_else(|| id.strip_prefix("ent."))
        .unwrap_or(id);
    let shaped = country.len() == 2
        && country.bytes().all(|b| b.is_ascii_alphabetic())
        && (1..=MAX_USER_ID_CHARS).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric());
    shaped.then(|| {
        Address::UserId(
            text.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect(),
        )
    })
}
