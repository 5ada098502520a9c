//! A small deterministic pseudo-random generator (SplitMix64) for everything random in a local
//! run: `States.MathRandom`, `States.UUID` and `FULL` retry jitter.
//!
//! Determinism is the point: a seeded run replays exactly, so tests can pin outputs. This is not
//! a cryptographic generator and must not be used for anything secret.

/// SplitMix64 state (Steele, Lea and Flood, "Fast splittable pseudorandom number generators").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fully determined by `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        // 2^-53: the top 53 bits give every representable multiple of 2^-53 in [0, 1).
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// A uniform integer in `[lo, hi]` (bounds swapped if `lo > hi`); never overflows.
    pub fn range_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        // The span fits in u64 once we subtract in i128; a span of 2^64 means "any i64".
        let span_minus_one = (i128::from(hi) - i128::from(lo)) as u64;
        if span_minus_one == u64::MAX {
            return self.next_u64() as i64;
        }
        let span = span_minus_one + 1;
        // Lemire's nearly-divisionless method with rejection, so every value is equally likely.
        let threshold = span.wrapping_neg() % span;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(span);
            if (product as u64) >= threshold {
                let offset = (product >> 64) as u64;
                return (i128::from(lo) + i128::from(offset)) as i64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::seeded(42);
        let mut b = Rng::seeded(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::seeded(1).next_u64(), Rng::seeded(2).next_u64());
    }

    #[test]
    fn splitmix64_reference_values() {
        // Reference outputs of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c).
        let mut rng = Rng::seeded(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn f64_is_in_unit_interval() {
        let mut rng = Rng::seeded(7);
        for _ in 0..10_000 {
            let x = rng.next_f64();
            assert!((0.0..1.0).contains(&x), "{x}");
        }
    }

    #[test]
    fn range_inclusive_stays_in_bounds() {
        let cases: [(i64, i64); 7] = [
            (1, 999),
            (0, 0),
            (-5, 5),
            (5, -5),
            (i64::MIN, i64::MAX),
            (i64::MAX - 1, i64::MAX),
            (i64::MIN, i64::MIN + 2),
        ];
        let mut rng = Rng::seeded(3);
        for (lo, hi) in cases {
            let (min, max) = if lo <= hi { (lo, hi) } else { (hi, lo) };
            for _ in 0..1_000 {
                let x = rng.range_inclusive(lo, hi);
                assert!(min <= x && x <= max, "{x} not in [{min}, {max}]");
            }
        }
    }

    #[test]
    fn range_inclusive_hits_both_ends() {
        let mut rng = Rng::seeded(11);
        let draws: Vec<i64> = (0..1_000).map(|_| rng.range_inclusive(1, 3)).collect();
        for v in 1..=3 {
            assert!(draws.contains(&v), "{v} never drawn");
        }
    }
}
