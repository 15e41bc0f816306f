//! The circuit-privacy budget of a plan: how far, in statistical distance, the client's view of
//! the server's replies can be from a simulation that knows only the decrypted values.
//!
//! Every reply of a linear or square stage is re-randomised and flooded with uniform noise in
//! [−B, B] per coefficient (`he::PublicKey::make_private`). With e the worst-case bound of the
//! reply's noise for *any* weights (linalg's noise walk, [`super::noise`]), one coefficient is
//! within e/(2B) of the simulation, a reply of n coefficients within n·e/(2B); the
//! distances add up over the replies of a query and over the [`SESSION_QUERIES`] queries a
//! session may make. The guarantee is that the session's sum is at most 2^[`SESSION_SD_LOG2`].
//! B itself depends only on the public plan, never on the weights.
use super::plan::{Plan, Stage};
use super::{noise, ProtocolError, Result};
use crate::he::privacy::flood_distance;
use crate::he::PublicKey;
use serde::Serialize;

/// Queries one session may make before the server requires fresh keys (a new session).
/// 2^16 MiniONN-CIFAR queries move ~54 TB at gazelle-8192-hybrid (823 MB each, `gazelle demo
/// --model cifar-minionn`): no real session comes near it, and each further
/// doubling costs one bit of the budget.
pub const SESSION_QUERIES: u64 = 1 << 16;

/// The required bound on a session's statistical distance, log2.
pub const SESSION_SD_LOG2: f64 = -40.0;

/// One replying stage's share of the budget.
#[derive(Debug, Clone, Serialize)]
pub struct StageBudget {
    /// Index in the plan.
    pub stage: usize,
    /// `linear` or `square`.
    pub kind: &'static str,
    /// The stage's name (layer, shape, method).
    pub name: String,
    /// log2 of the worst-case noise bound of a reply before flooding, for any weights.
    pub noise_bits: f64,
    /// log2 of the flooding half-width B (`None`: no room to flood at all).
    pub flood_bits: Option<f64>,
    /// Reply ciphertexts per query.
    pub replies: usize,
    /// log2 of the statistical-distance bound of one reply, n·e/(2B) (B = 0 when there is
    /// no room; a bound above 1, log2 > 0, guarantees nothing).
    pub sd_log2: f64,
}

/// The budget of a whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyBudget {
    /// Parameter set name.
    pub params: String,
    /// Ring degree.
    pub n: usize,
    /// The ciphertext primes.
    pub moduli: Vec<u64>,
    /// Plaintext modulus.
    pub p: u64,
    /// Security by the HomomorphicEncryption.org table (0: below 128).
    pub security_bits: u32,
    /// The replying stages.
    pub stages: Vec<StageBudget>,
    /// log2 of the summed bound over one query's replies.
    pub query_sd_log2: f64,
    /// Queries per session.
    pub session_queries: u64,
    /// log2 of the summed bound over a session of `session_queries` queries.
    pub session_sd_log2: f64,
}

fn log2_sum(terms: impl IntoIterator<Item = f64>) -> f64 {
    let s: f64 = terms.into_iter().map(f64::exp2).sum();
    if s > 0.0 {
        s.log2()
    } else {
        f64::NEG_INFINITY
    }
}

impl PrivacyBudget {
    /// The budget of `plan` when replies are flooded at full level and (with `switch_down`)
    /// switched down one prime afterwards, as the server does.
    pub fn of(plan: &Plan, model: &crate::nn::Model, switch_down: bool) -> PrivacyBudget {
        let params = &plan.params;
        let n = params.n() as f64;
        let mut stages = Vec::new();
        for (i, stage) in plan.stages.iter().enumerate() {
            let (kind, noise, replies) = match stage {
                Stage::Linear { schedule, .. } => (
                    "linear",
                    noise::linear_stage_any_weights(params, schedule),
                    schedule.output_layout().num_cts(),
                ),
                Stage::Square { len } => (
                    "square",
                    noise::square_stage(params),
                    len.div_ceil(params.n()),
                ),
                _ => continue,
            };
            let flood = PublicKey::flood_bound(params, noise, params.max_level(), switch_down).ok();
            let sd_log2 = match flood {
                Some(b) => (n * flood_distance(noise.value(), b)).log2(),
                None => (n * noise.value().max(1.0)).log2(),
            };
            stages.push(StageBudget {
                stage: i,
                kind,
                name: stage.name(model),
                noise_bits: noise.bits(),
                flood_bits: flood.map(f64::log2),
                replies,
                sd_log2,
            });
        }
        let query_sd_log2 = log2_sum(stages.iter().map(|s| s.sd_log2 + (s.replies as f64).log2()));
        let session_sd_log2 = query_sd_log2 + (SESSION_QUERIES as f64).log2();
        PrivacyBudget {
            params: params.name().to_string(),
            n: params.n(),
            moduli: params.moduli().to_vec(),
            p: params.p(),
            security_bits: params.security().table_bits,
            stages,
            query_sd_log2,
            session_queries: SESSION_QUERIES,
            session_sd_log2,
        }
    }

    /// Whether the session's distance is within 2^[`SESSION_SD_LOG2`] at ≥ 128-bit security.
    pub fn holds(&self) -> bool {
        self.session_sd_log2 <= SESSION_SD_LOG2 && self.security_bits >= 128
    }

    /// `Ok` when [`PrivacyBudget::holds`]; else an error naming the worst stage and the bits
    /// missing.
    pub fn check(&self) -> Result<()> {
        if self.holds() {
            return Ok(());
        }
        if self.security_bits < 128 {
            return Err(ProtocolError::NoCircuitPrivacy(format!(
                "parameter set {} is below 128-bit security",
                self.params
            )));
        }
        let worst = self
            .stages
            .iter()
            .max_by(|a, b| {
                (a.sd_log2 + (a.replies as f64).log2())
                    .total_cmp(&(b.sd_log2 + (b.replies as f64).log2()))
            })
            .map_or_else(String::new, |s| {
                format!(
                    "; worst stage {} ({}): 2^{:.1} per reply × {} replies",
                    s.stage, s.name, s.sd_log2, s.replies
                )
            });
        Err(ProtocolError::NoCircuitPrivacy(format!(
            "parameter set {}: the distance bound summed over a session of {} queries is 2^{:.1}, {:.1} bits above the required 2^{}{worst}",
            self.params,
            self.session_queries,
            self.session_sd_log2,
            self.session_sd_log2 - SESSION_SD_LOG2,
            SESSION_SD_LOG2
        )))
    }
}
