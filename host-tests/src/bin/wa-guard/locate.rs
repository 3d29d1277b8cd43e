//! Where a policy problem's JSON path (`$.origins[2].identities[0]`) is in the policy's text:
//! line and column (1-based) of the value at the path, or of the deepest part of the path
//! that exists (an unknown field is reported at the object that holds it).

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let rest = path.strip_prefix('$').unwrap_or(path);
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    key.push(n);
                    chars.next();
                }
                out.push(Step::Key(key));
            }
            '[' => {
                let digits: String = chars.by_ref().take_while(|&n| n != ']').collect();
                match digits.parse() {
                    Ok(i) => out.push(Step::Index(i)),
                    Err(_) => return out,
                }
            }
            _ => return out,
        }
    }
    out
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// A string at the cursor, decoded (escapes read by serde_json).
    fn string(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.at;
        if self.peek() != Some(b'"') {
            return None;
        }
        self.at += 1;
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b'\\' => self.at += 1,
                b'"' => return serde_json::from_slice(self.bytes.get(start..self.at)?).ok(),
                _ => {}
            }
        }
        None
    }

    /// Skips one value; `None` on malformed JSON.
    fn skip_value(&mut self) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.at += 1;
                if self.eat(close) {
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                    }
                    self.skip_value()?;
                    if self.eat(close) {
                        return Some(());
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// Moves the cursor to the value of `step` inside the value at the cursor.
    fn enter(&mut self, step: &Step) -> Option<()> {
        let save = self.at;
        let found = match step {
            Step::Key(key) => self.find_key(key),
            Step::Index(i) => self.find_index(*i),
        };
        if found.is_none() {
            self.at = save;
        }
        found
    }

    fn find_key(&mut self, key: &str) -> Option<()> {
        if !self.eat(b'{') || self.eat(b'}') {
            return None;
        }
        loop {
            let k = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            self.skip_ws();
            if k == key {
                return Some(());
            }
            self.skip_value()?;
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn find_index(&mut self, index: usize) -> Option<()> {
        if !self.eat(b'[') || self.eat(b']') {
            return None;
        }
        for _ in 0..index {
            self.skip_value()?;
            if !self.eat(b',') {
                return None;
            }
        }
        self.skip_ws();
        Some(())
    }
}

/// Line and column (1-based, in characters) of the path's value in `text`.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    s.skip_ws();
    for step in steps(path) {
        if s.enter(&step).is_none() {
            break;
        }
    }
    let before = text.get(..s.at)?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "{\n  \"origins\": [\n    {\"id\": \"a\"},\n    {\"id\": \"b\", \"identities\": [{\"glob\": \"x\"}]}\n  ],\n  \"k\\\"q\": 1\n}\n";

    #[test]
    fn paths_to_places() {
        assert_eq!(locate(POLICY, "$.origins[1].identities[0]"), Some((4, 32)));
        assert_eq!(locate(POLICY, "$.origins[0].id"), Some((3, 12)));
        assert_eq!(locate(POLICY, "$"), Some((1, 1)));
        // The deepest part that exists.
        assert_eq!(locate(POLICY, "$.origins[7].id"), Some((2, 14)));
        assert_eq!(locate(POLICY, "$.nothing"), Some((1, 1)));
    }

    #[test]
    fn steps_of_a_path() {
        assert_eq!(
            steps("$.a[2].b"),
            vec![Step::Key("a".into()), Step::Index(2), Step::Key("b".into())]
        );
    }
}
