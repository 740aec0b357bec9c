//! The fast paths for the compact shapes Go writes: the rings (`PauseNs`, `PauseEnd`) and
//! `BySize` as arrays without spaces (or with one space between tokens, as Elastic's pipeline
//! tests write them), `cmdline` as plain strings, `memstats` keys of plain ASCII.
//! Each moves past its shape or gives up (`None`) for the general path, which then says what is
//! wrong, if anything.

use super::Cursor;
use super::number::uint_value;
use super::skip::plain_run_end;
use crate::scan::{
    FOUR_ZEROS, bytes_to_inspect, digit_run, digits_value, first_marked, leading_digits, load,
    non_digit_bytes,
};

/// Powers of ten, up to 10^8.
const POW10: [u64; 9] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/// Four `0, ` elements, twelve bytes, as a word and the low half of the next: the same, with
/// spaces.
const FOUR_SPACED_ZEROS: (u64, u32) =
    (u64::from_le_bytes(*b"0, 0, 0,"), u32::from_le_bytes(*b" 0, "));

impl<'a> Cursor<'a> {
    /// An object key of at most 16 bytes of plain ASCII (no escape) right followed by its colon,
    /// as Go writes `memstats`: moves past both and returns the key's length and its bytes as two
    /// zero-padded little-endian words (compared with known keys without a byte loop); `None`,
    /// not moving, at anything else.
    #[inline(always)]
    pub fn short_key(&mut self) -> Option<(usize, [u64; 2])> {
        let bytes = self.bytes;
        if bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        let start = self.pos + 1;
        let first = load(bytes, start);
        let stops = bytes_to_inspect(first);
        let (len, words) = if stops != 0 {
            let len = first_marked(stops);
            (len, [first & low_bytes(len), 0])
        } else {
            let second = load(bytes, start + 8);
            let stops = bytes_to_inspect(second);
            if stops == 0 {
                return None;
            }
            let len = first_marked(stops);
            (8 + len, [first, second & low_bytes(len)])
        };
        if bytes.get(start + len..start + len + 2) != Some(b"\":") {
            return None;
        }
        self.pos = start + len + 2;
        Some((len, words))
    }

    /// At `[`: an array written without spaces of non-empty strings of plain ASCII (no escape,
    /// no control character): moves past it and returns its text; `None`, not moving, at
    /// anything else (an empty array included).
    pub fn compact_plain_strings(&mut self) -> Option<&'a str> {
        let bytes = self.bytes;
        if bytes.get(self.pos) != Some(&b'[') {
            return None;
        }
        let mut pos = self.pos + 1;
        loop {
            if bytes.get(pos) != Some(&b'"') {
                return None;
            }
            let start = pos + 1;
            pos = plain_run_end(bytes, start);
            if pos == start || bytes.get(pos) != Some(&b'"') {
                return None;
            }
            match bytes.get(pos + 1) {
                Some(b',') => pos += 2,
                Some(b']') => {
                    let text = self.text(self.pos, pos + 2);
                    self.pos = pos + 2;
                    return Some(text);
                }
                _ => return None,
            }
        }
    }

    /// A plain unsigned integer (`0`, or digits not starting with 0) that fits 64 bits and is
    /// right followed by `,`, `}` or `]`: moves past it and returns it; `None`, not moving, at
    /// anything else.
    #[inline(always)]
    pub fn plain_uint(&mut self) -> Option<u64> {
        let word = load(self.bytes, self.pos);
        let n = leading_digits(word);
        if n == 0 || (n > 1 && word as u8 == b'0') {
            return None;
        }
        let (end, value) = if n < 8 {
            (self.pos + n, digits_value(word, n))
        } else {
            // Eight digits and more (most `memstats` figures): up to nineteen, which always fit,
            // from three words; more, digit by digit.
            let high = digits_value(word, 8);
            let second = load(self.bytes, self.pos + 8);
            let third = load(self.bytes, self.pos + 16);
            match (leading_digits(second), leading_digits(third)) {
                (0, _) => (self.pos + 8, high),
                (m @ 1..8, _) => (self.pos + 8 + m, high * POW10[m] + digits_value(second, m)),
                (_, 0) => (self.pos + 16, high * POW10[8] + digits_value(second, 8)),
                (_, k @ 1..4) => {
                    let value = (high * POW10[8] + digits_value(second, 8)) * POW10[k]
                        + digits_value(third, k);
                    (self.pos + 16 + k, value)
                }
                _ => {
                    let end = self.pos + 8 + digit_run(&self.bytes[self.pos + 8..]);
                    (end, uint_value(&self.bytes[self.pos..end])?)
                }
            }
        };
        if !matches!(self.bytes.get(end), Some(b',' | b'}' | b']')) {
            return None;
        }
        self.pos = end;
        Some(value)
    }

    /// The fast paths of [`Cursor::skip_value`] for what most of a body is: arrays whose
    /// elements are unsigned integers (`PauseNs`, `PauseEnd`) or flat objects of them (`BySize`),
    /// written as Go writes them or with one space after each `[`, `{`, `:` and `,` and before
    /// each `]` and `}` (as Elastic's pipeline tests write them). Moves past one and returns its
    /// depth (1, or 2 with objects), or returns `None` with the position unchanged for the general
    /// path (which then reports any error).
    pub(super) fn compact_array(&mut self) -> Option<usize> {
        let start = self.pos;
        let found = match (self.bytes.get(start + 1), self.bytes.get(start + 2)) {
            (Some(b'{'), _) => self.compact_object_array::<false>().then_some(2),
            (Some(b' '), Some(b'{')) => self.compact_object_array::<true>().then_some(2),
            _ => self.compact_uint_array(None).map(|_| 1),
        };
        if found.is_none() {
            self.pos = start;
        }
        found
    }

    /// At `[`: an array of unsigned integers written without spaces (`[0,12,3]`) or with one
    /// after `[` and each `,` and one before `]` (`[ 0, 12, 3 ]`). Moves past it and returns how
    /// many elements it has, writing where the first ones start (from the `[`) into `starts` when
    /// given, and leaving those of runs of zeros as they were (`ZERO_ENTRY`); `None` (position
    /// somewhere inside) at anything else, a number above 2^64-1 included when values are kept.
    pub fn compact_uint_array(&mut self, starts: Option<&mut [u16]>) -> Option<usize> {
        // The array's spacing, from its first byte: every separator must then be written alike.
        if self.bytes.get(self.pos + 1) == Some(&b' ') {
            self.uint_array::<true>(starts)
        } else {
            self.uint_array::<false>(starts)
        }
    }

    /// [`Cursor::compact_uint_array`], with one space between tokens when `SPACED`.
    #[inline(always)]
    fn uint_array<const SPACED: bool>(&mut self, mut starts: Option<&mut [u16]>) -> Option<usize> {
        let bytes = self.bytes;
        let open = self.pos;
        let mut pos = open + 1 + usize::from(SPACED);
        let mut count = 0;
        if bytes.get(pos) == Some(&b']') {
            self.pos = pos + 1;
            return Some(0);
        }
        // Where 24 bytes are left: an element and its separator read from three words of one
        // chunk, with no bounds check per byte or word.
        while let Some(chunk) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<24>) {
            let word = |i: usize| u64::from_le_bytes(*chunk[8 * i..].first_chunk().unwrap());
            let first = word(0);
            // Four zeros: kept entries start as zeros (`ZERO_ENTRY`), so only the count moves.
            let zeros = if SPACED {
                (first, word(1) as u32) == FOUR_SPACED_ZEROS
            } else {
                first == FOUR_ZEROS
            };
            if zeros {
                pos += if SPACED { 12 } else { 8 };
                count += 4;
                continue;
            }
            let mut stops = non_digit_bytes(first);
            let mut at = 0;
            while stops == 0 {
                at += 1;
                if at == 3 {
                    return None; // 24 digits: beyond 64 bits, left to the general path
                }
                stops = non_digit_bytes(word(at));
            }
            let in_word = first_marked(stops);
            let n = 8 * at + in_word;
            // No digit, or a leading zero.
            if n == 0 || (n > 1 && first as u8 == b'0') {
                return None;
            }
            keep_start(starts.as_deref_mut(), count, n, pos - open)?;
            count += 1;
            let stop = (word(at) >> (8 * in_word)) as u8;
            match after_element::<SPACED>(bytes, pos + n, stop)? {
                Step::Next(next) => pos = next,
                Step::Close(end) => {
                    self.pos = end;
                    return Some(count);
                }
            }
        }
        // The last bytes of the body.
        loop {
            let end = plain_uint_end(bytes, pos)?;
            keep_start(starts.as_deref_mut(), count, end - pos, pos - open)?;
            count += 1;
            match after_element::<SPACED>(bytes, end, *bytes.get(end)?)? {
                Step::Next(next) => pos = next,
                Step::Close(end) => {
                    self.pos = end;
                    return Some(count);
                }
            }
        }
    }

    /// At `[`: an array of flat objects whose members are unsigned integers, written without
    /// spaces (`[{"Size":0,"Mallocs":1},{"Size":8,"Mallocs":0}]`) or, when `SPACED`, with one
    /// after each `[`, `{`, `:` and `,` and one before each `}` and `]`; every object with the
    /// keys of the first in the same order. The first object is checked key by key; the text
    /// before each number of the next ones must be the same bytes (`,{"Size":`, `,"Mallocs":`),
    /// compared eight at a time. False (position somewhere inside) at anything else.
    fn compact_object_array<const SPACED: bool>(&mut self) -> bool {
        const KEPT: usize = 8;
        let bytes = self.bytes;
        let gap = usize::from(SPACED);
        // The space due at `at`, if any.
        let spaced_at = |at: usize| !SPACED || bytes.get(at) == Some(&b' ');
        // At `at`, the end of an object: `}`, or ` }`.
        let closes_at = |at: usize| {
            if SPACED { bytes.get(at..at + 2) == Some(b" }") } else { bytes.get(at) == Some(&b'}') }
        };
        // The first object: the text before each member's number (from the `{` or the `,`: its
        // key, colon and spaces), remembered.
        let mut pos = self.pos + 1 + gap;
        if bytes.get(pos) != Some(&b'{') {
            return false;
        }
        let mut texts = [Fixed::EMPTY; KEPT];
        let mut members = 0;
        let mut start = pos;
        pos += 1;
        loop {
            if !spaced_at(pos) {
                return false;
            }
            pos += gap;
            let Some(len) = plain_key_len(bytes, pos) else { return false };
            pos += len;
            if !spaced_at(pos) || members == KEPT {
                return false;
            }
            pos += gap;
            let Some(text) = Fixed::new(&bytes[start..pos]) else { return false };
            texts[members] = text;
            members += 1;
            let Some(end) = plain_uint_end(bytes, pos) else { return false };
            start = end;
            pos = end;
            if bytes.get(pos) == Some(&b',') {
                pos += 1;
            } else if closes_at(pos) {
                pos += 1 + gap;
                break;
            } else {
                return false;
            }
        }
        // The next objects start with `,`, its space, and the first object's first text.
        if bytes.get(pos) == Some(&b',') {
            if !spaced_at(pos + 1) || !texts[0].is_at(bytes, pos + 1 + gap) {
                return false;
            }
            let Some(first) = Fixed::new(&bytes[pos..pos + 1 + gap + texts[0].len]) else {
                return false;
            };
            texts[0] = first;
        }
        // The next objects. Go's `BySize` objects have three members: their texts then go as an
        // array of three, so that the loop over them is unrolled with the texts kept out of
        // memory.
        match <[Fixed; 3]>::try_from(&texts[..members]) {
            Ok(three) => self.next_objects::<SPACED>(pos, three),
            Err(_) => self.next_objects::<SPACED>(pos, &texts[..members]),
        }
    }

    /// [`Cursor::compact_object_array`] from `pos`, past the first object: each next object has
    /// the members of `texts`, in order.
    #[inline(always)]
    fn next_objects<const SPACED: bool>(
        &mut self,
        mut pos: usize,
        texts: impl AsRef<[Fixed]>,
    ) -> bool {
        let texts = texts.as_ref();
        let bytes = self.bytes;
        let gap = usize::from(SPACED);
        let spaced_at = |at: usize| !SPACED || bytes.get(at) == Some(&b' ');
        let closes_at = |at: usize| {
            if SPACED { bytes.get(at..at + 2) == Some(b" }") } else { bytes.get(at) == Some(&b'}') }
        };
        // Past each object's `}`: the next object, or the array's end.
        loop {
            if bytes.get(pos) != Some(&b',') {
                if !spaced_at(pos) || bytes.get(pos + gap) != Some(&b']') {
                    return false;
                }
                self.pos = pos + gap + 1;
                return true;
            }
            // Where 32 bytes are left: a member (its text and a number of up to 7 digits) read
            // from one chunk; anything else by the member's general check below.
            let mut at = pos;
            let mut all = true;
            for text in texts {
                let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<32>) else {
                    all = false;
                    break;
                };
                let word = |i: usize| u64::from_le_bytes(*chunk[i..].first_chunk().unwrap());
                if !text.is_in(word(0), word(8)) {
                    return false;
                }
                let number = word(text.len.min(16));
                let n = first_marked(non_digit_bytes(number));
                if n == 0 || n == 8 || (n > 1 && number as u8 == b'0') {
                    all = false;
                    break;
                }
                at += text.len + n;
            }
            if !all {
                at = pos;
                for text in texts {
                    if !text.is_at(bytes, at) {
                        return false;
                    }
                    let Some(end) = plain_uint_end(bytes, at + text.len) else { return false };
                    at = end;
                }
            }
            if !closes_at(at) {
                return false;
            }
            pos = at + 1 + gap;
        }
    }
}

/// When `starts` are kept, writes where element `index` starts (`at`, from the array's `[`):
/// kept entries are decoded later, when needed, so here only their place, and that their
/// `digits` fit 64 bits (19 always do; more, the general path judges). `None` for more, or for a
/// place beyond what a `u16` marks.
#[inline(always)]
fn keep_start(starts: Option<&mut [u16]>, index: usize, digits: usize, at: usize) -> Option<()> {
    let Some(starts) = starts else { return Some(()) };
    if digits > 19 {
        return None;
    }
    if let Some(slot) = starts.get_mut(index) {
        *slot = u16::try_from(at).ok().filter(|&at| at != u16::MAX)?;
    }
    Some(())
}

/// Where an array's element ends, with its `stop` byte there: the next element, or the array's
/// end.
enum Step {
    Next(usize),
    Close(usize),
}

/// After an array's element, at `end` where its `stop` byte is: `,` (and a space when `SPACED`)
/// before the next element, or `]` (after a space when `SPACED`) closing the array; `None` at
/// anything else.
#[inline(always)]
fn after_element<const SPACED: bool>(bytes: &[u8], end: usize, stop: u8) -> Option<Step> {
    if !SPACED {
        return match stop {
            b',' => Some(Step::Next(end + 1)),
            b']' => Some(Step::Close(end + 1)),
            _ => None,
        };
    }
    match (stop, bytes.get(end + 1)) {
        (b',', Some(b' ')) => Some(Step::Next(end + 2)),
        (b' ', Some(b']')) => Some(Step::Close(end + 2)),
        _ => None,
    }
}

/// A mask of the `n` low bytes of a word (`n` below 8).
#[inline(always)]
fn low_bytes(n: usize) -> u64 {
    (1u64 << (8 * n)) - 1
}

/// Up to sixteen bytes of a body that must recur, as two words and masks to compare them with.
#[derive(Clone, Copy)]
struct Fixed {
    words: [u64; 2],
    masks: [u64; 2],
    len: usize,
}

impl Fixed {
    const EMPTY: Fixed = Fixed { words: [0; 2], masks: [0; 2], len: 0 };

    fn new(text: &[u8]) -> Option<Fixed> {
        let len = text.len();
        if len == 0 || len > 16 {
            return None;
        }
        let mask = |n: usize| if n >= 8 { u64::MAX } else { low_bytes(n) };
        let masks = [mask(len), mask(len.saturating_sub(8))];
        let words = [load(text, 0) & masks[0], load(text, 8) & masks[1]];
        Some(Fixed { words, masks, len })
    }

    /// Whether the sixteen bytes in `first` and `second` start with these.
    #[inline(always)]
    fn is_in(&self, first: u64, second: u64) -> bool {
        first & self.masks[0] == self.words[0] && second & self.masks[1] == self.words[1]
    }

    /// Whether the body has these bytes at `at` (past its end it has zero bytes, which no fixed
    /// text of a body holds).
    #[inline(always)]
    fn is_at(&self, bytes: &[u8], at: usize) -> bool {
        load(bytes, at) & self.masks[0] == self.words[0]
            && (self.len <= 8 || load(bytes, at + 8) & self.masks[1] == self.words[1])
    }
}

/// Where the plain unsigned integer at `at` ends (`0`, or digits not starting with 0), or `None`.
#[inline(always)]
fn plain_uint_end(bytes: &[u8], at: usize) -> Option<usize> {
    let word = load(bytes, at);
    let n = leading_digits(word);
    if n == 0 || (n > 1 && word as u8 == b'0') {
        return None;
    }
    if n < 8 {
        return Some(at + n);
    }
    Some(at + 8 + digit_run(&bytes[at + 8..]))
}

/// At `"`: the length of a key of plain ASCII (no escape, no control or non-ASCII byte) with its
/// quotes and the colon right after it, or `None`.
#[inline(always)]
fn plain_key_len(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let pos = plain_run_end(bytes, at + 1);
    (bytes.get(pos..pos + 2) == Some(b"\":")).then_some(pos + 2 - at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_integers_of_every_length_are_read_exactly() {
        let mut cases: Vec<u64> = (0..=19).map(|digits| 10u64.pow(digits.min(19)) - 1).collect();
        cases.extend((0..=19).map(|digits| 10u64.pow(digits)));
        cases.extend([
            u64::MAX,
            u64::MAX - 1,
            10_000_000_000_000_000_000,
            1_234_567_890_123_456_789,
        ]);
        cases.extend((0..1000).map(|i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (i % 64)));
        for n in cases {
            for end in [",", "}", "]"] {
                let text = format!("{n}{end}");
                let mut c = Cursor::new(text.as_bytes());
                assert_eq!(c.plain_uint(), Some(n), "{text}");
                assert_eq!(c.pos, text.len() - 1, "{text}");
            }
        }
        // Beyond 64 bits, a leading zero, or no separator after: left to the general path.
        for text in ["18446744073709551616,", "123456789012345678901,", "01,", "12", "1234567890x"]
        {
            assert_eq!(Cursor::new(text.as_bytes()).plain_uint(), None, "{text}");
        }
    }

    #[test]
    fn compact_paths_take_go_arrays() {
        let by_size = br#"[{"Size":0,"Mallocs":0,"Frees":0},{"Size":8,"Mallocs":34,"Frees":0},{"Size":16,"Mallocs":179,"Frees":0}],"#;
        let mut c = Cursor::new(by_size);
        assert_eq!(c.compact_array(), Some(2));
        assert_eq!(c.peek(), Some(b','));
        let ring = b"[0,0,0,0,0,0,0,0,0,0,12,345678901,0,0,1]";
        // Under 24 bytes from the end, elements are read one by one: a long ring.
        let ring = [&ring[..], &[b' '; 24]].concat();
        let mut starts = [u16::MAX; 16];
        let mut c = Cursor::new(&ring);
        assert_eq!(c.compact_uint_array(Some(&mut starts)), Some(15));
        // The first eight zeros, skipped eight bytes at a time, keep their marks.
        let z = u16::MAX;
        assert_eq!(starts[..15], [z, z, z, z, z, z, z, z, 17, 19, 21, 24, 34, 36, 38]);
    }

    #[test]
    fn compact_paths_take_arrays_with_one_space_between_tokens() {
        let by_size = br#"[ { "Size": 0, "Mallocs": 0, "Frees": 0 }, { "Size": 8, "Mallocs": 34, "Frees": 0 }, { "Size": 16, "Mallocs": 1790000000, "Frees": 0 } ], "#;
        let mut c = Cursor::new(by_size);
        assert_eq!(c.compact_array(), Some(2));
        assert_eq!(c.peek(), Some(b','));
        let ring = b"[ 0, 0, 0, 0, 0, 0, 0, 0, 12, 345678901, 0, 1 ]";
        let ring = [&ring[..], &[b' '; 24]].concat();
        let mut starts = [u16::MAX; 16];
        let mut c = Cursor::new(&ring);
        assert_eq!(c.compact_uint_array(Some(&mut starts)), Some(12));
        assert_eq!(c.pos, ring.len() - 24);
        let z = u16::MAX;
        assert_eq!(starts[..12], [z, z, z, z, z, z, z, z, 26, 30, 41, 44]);
        for empty in [&b"[ ]"[..], b"[]"] {
            assert_eq!(Cursor::new(empty).compact_array(), Some(1));
        }
    }

    #[test]
    fn compact_paths_leave_the_rest_to_the_general_path() {
        for text in [
            &b"[01]"[..],
            b"[0,]",
            b"[,0]",
            b"[1 ,2]",
            b"[{\"a\":1},{\"b\":1}]",
            b"[{\"a\":1},{\"a\":01}]",
            b"[{\"a\":1},{\"a\":1,\"b\":2}]",
            b"[{\"a\":1}",
            b"[0,0,0,0,0,0,0,0",
            b"[ 1,2 ]",
            b"[1, 2]",
            b"[ 1, 2]",
            b"[  1, 2 ]",
            b"[ 1, 2 , 3 ]",
            b"[ { \"a\": 1 }, { \"a\": 1 }",
            b"[ { \"a\": 1 }, { \"a\":1 } ]",
            b"[ { \"a\": 1 }, { \"a\": 1} ]",
            b"[ { \"a\": 1 } , { \"a\": 1 } ]",
            b"[ {\"a\" : 1 } ]",
        ] {
            assert_eq!(
                Cursor::new(text).compact_array(),
                None,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }
}
