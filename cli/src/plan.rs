//! `gazelle plan`: the evaluation plan of a model under a parameter set and its circuit-privacy
//! budget, per stage and in total, as a table or JSON.
use gazelle::he::params::ParamSetId;
use gazelle::nn::Model;
use gazelle::protocol::{MemoryPlan, Plan, PrivacyBudget, WeightsMemory, SESSION_SD_LOG2};

/// A bundled model by name, or a `.gzm` file by path.
pub fn load_model(spec: &str) -> Result<Model, String> {
    gazelle::nn::model_by_name_or_path(spec).map_err(|e| format!("{spec}: {e}"))
}

/// Builds the plan and its budget; prints them. Exit status: an error when the model cannot
/// be planned at all; the budget's verdict is printed (and in the JSON), not an error.
pub fn run(model: &str, set: ParamSetId, json: bool) -> Result<(), String> {
    let m = load_model(model)?;
    let params = set.params().map_err(|e| e.to_string())?;
    let plan = Plan::new(&m, &params).map_err(|e| format!("{model} under {}: {e}", set.name()))?;
    let budget = PrivacyBudget::of(&plan, &m, true);
    if json {
        let text = serde_json::to_string_pretty(&budget).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "model {} under {}: n = {}, moduli {:?}, p = {}, {}",
        m.name(),
        set.name(),
        budget.n,
        budget.moduli,
        budget.p,
        params.security().describe()
    );
    println!(
        "{:<6} {:<7} {:<58} {:>10} {:>10} {:>12} {:>8}",
        "stage", "kind", "name", "noise 2^", "flood 2^", "SD/reply 2^", "replies"
    );
    for s in &budget.stages {
        println!(
            "{:<6} {:<7} {:<58} {:>10.1} {:>10} {:>12.1} {:>8}",
            s.stage,
            s.kind,
            s.name,
            s.noise_bits,
            s.flood_bits
                .map_or_else(|| "no room".to_string(), |b| format!("{b:.1}")),
            s.sd_log2,
            s.replies
        );
    }
    println!(
        "per query: 2^{:.1}; per session of {} queries: 2^{:.1} (required: ≤ 2^{SESSION_SD_LOG2})",
        budget.query_sd_log2, budget.session_queries, budget.session_sd_log2
    );
    match budget.check() {
        Ok(()) => println!("circuit privacy: holds"),
        Err(e) => println!("circuit privacy: DOES NOT HOLD — {e}"),
    }
    let limit = WeightsMemory::DEFAULT;
    let mem = MemoryPlan::of(&plan, &params, limit).map_err(|e| e.to_string())?;
    let mb = |b: usize| b as f64 / 1e6;
    let WeightsMemory::Limit { bytes, .. } = limit else {
        unreachable!("the default is a limit")
    };
    println!(
        "server memory: prepared weights ≤ {:.1} MB at the default --weights-memory {:.0} ({} of {} plaintexts kept as coefficients; {:.1} MB all in NTT form){}; per session {} Galois keys, {:.1} MB",
        mb(mem.weights_bytes),
        mb(bytes),
        mem.kept_as_coefficients,
        mem.plaintexts,
        mb(mem.weights_ntt_bytes),
        mem.note.map_or_else(String::new, |n| format!(", over the limit: {n}")),
        mem.galois_keys,
        mb(mem.galois_key_bytes)
    );
    Ok(())
}
