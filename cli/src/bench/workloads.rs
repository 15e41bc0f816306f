//! Fixed workloads for `gazelle profile`: small, repeatable pieces of the server's and the
//! garbler's hot paths.
use gazelle::gc::garble::{Evaluator, Garbler};
use gazelle::gc::gazelle::{NonlinearCircuit, NonlinearSpec};
use gazelle::he::{
    sampling, Ciphertext, GaloisKeys, Hoisted, Plaintext, PreparedPlaintext, SecretKey,
};
use gazelle::kernels::Aes128;
use rand::{Rng, SeedableRng};
use rand_chacha::{ChaCha12Rng, ChaCha8Rng};

/// Homomorphic work of a linear layer: 8 hoisted rotations of one ciphertext, each multiplied
/// by a prepared plaintext and accumulated (default parameter set).
pub struct HeWorkload {
    ct: Ciphertext,
    keys: GaloisKeys,
    weights: Vec<PreparedPlaintext>,
}

impl HeWorkload {
    /// Keys, one encrypted input and 8 plaintext weight vectors at the default parameters.
    pub fn new() -> gazelle::he::Result<Self> {
        let params = gazelle::he::ParamSetId::default().params()?;
        let mut rng = sampling::secret_rng()?;
        let sk = SecretKey::generate(&params, &mut rng);
        let steps: Vec<i64> = (1..=8).collect();
        let keys = GaloisKeys::for_steps(&sk, &steps, false, &mut rng)?;
        let p = params.p();
        let mut r = ChaCha8Rng::seed_from_u64(7);
        let vec = |rng: &mut ChaCha8Rng| {
            (0..params.n())
                .map(|_| rng.random_range(0..p))
                .collect::<Vec<u64>>()
        };
        let ct = sk.encrypt(&Plaintext::encode_slots(&params, &vec(&mut r))?, &mut rng)?;
        let weights = (0..8)
            .map(|_| {
                Plaintext::encode_slots(&params, &vec(&mut r)).map(|pt| PreparedPlaintext::new(&pt))
            })
            .collect::<gazelle::he::Result<Vec<_>>>()?;
        Ok(Self { ct, keys, weights })
    }

    /// One run: decompose once, rotate 8 times, multiply-accumulate.
    pub fn run(&self) {
        let hoisted = Hoisted::new(&self.ct).expect("workload ciphertext is valid");
        let mut acc = self
            .ct
            .mul_plain(&self.weights[0])
            .expect("same parameters");
        for (step, w) in (1..=8).zip(&self.weights) {
            let rotated = hoisted.rotate_rows(&self.keys, step).expect("key present");
            acc.mul_plain_acc(&rotated, w).expect("same parameters");
        }
        std::hint::black_box(acc);
    }
}

/// Garbling and evaluating 1000 ReLU-with-re-masking circuits at p = 1032193.
pub struct GcWorkload {
    circuit: NonlinearCircuit,
    bits: Vec<bool>,
    stream: Vec<u8>,
    aes: Aes128,
    instances: usize,
}

impl GcWorkload {
    /// The circuit and random inputs.
    pub fn new() -> gazelle::gc::Result<Self> {
        let p = 1_032_193;
        let circuit = NonlinearCircuit::new(NonlinearSpec::relu(p))?;
        let instances = 1000;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut draw = |n: usize| -> Vec<u64> { (0..n).map(|_| rng.random_range(0..p)).collect() };
        let (c, s, r) = (draw(instances), draw(instances), draw(instances));
        let bits = circuit.input_bits(&c, &s, &r)?;
        Ok(Self {
            circuit,
            bits,
            stream: Vec::new(),
            aes: Aes128::fixed()?,
            instances,
        })
    }

    /// A fresh instance of the fixed-key hash (`Aes128` is not `Clone`).
    fn fresh_aes(&self) -> Aes128 {
        Aes128::with_backend(self.aes.round_keys()[0], self.aes.backend())
            .expect("the backend of an existing Aes128 is available")
    }

    /// One run: garble into a buffer, then evaluate from it.
    pub fn run(&mut self) {
        self.stream.clear();
        let scheme = gazelle::protocol::ServerConfig::default().garbling;
        let mut g =
            Garbler::with_parts(self.fresh_aes(), ChaCha12Rng::from_os_rng()).with_scheme(scheme);
        let garbling = g
            .garble(self.circuit.circuit(), self.instances, &mut self.stream)
            .expect("garbling");
        let labels = garbling.encode(&self.bits).expect("input bits match");
        let mut e = Evaluator::with_aes(self.fresh_aes()).with_scheme(scheme);
        let out = e
            .evaluate(
                self.circuit.circuit(),
                self.instances,
                &labels,
                &mut self.stream.as_slice(),
            )
            .expect("stream is well formed");
        std::hint::black_box(out);
    }
}

/// One MiniONN-CIFAR convolution (64→64 channels, 3×3, padding 1, on 8×8) evaluated
/// homomorphically by the server with the cost model's method, on the global scheduler.
pub struct ConvWorkload {
    layer: gazelle::linalg::PreparedLayer,
    cts: Vec<Ciphertext>,
    keys: GaloisKeys,
}

impl ConvWorkload {
    /// Keys, weights and one encrypted input.
    pub fn new() -> Result<Self, String> {
        use gazelle::linalg::{
            bench::random_weights, ConvShape, LayerShape, PreparedLayer, Schedule,
        };
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let params = gazelle::he::ParamSetId::default()
            .params()
            .map_err(|x| e(&x))?;
        let shape = LayerShape::Conv(ConvShape::conv(64, 64, 8, 8, 3, 1, 1));
        let schedule = Schedule::best(&params, &shape).map_err(|x| e(&x))?;
        let mut rng = sampling::secret_rng().map_err(|x| e(&x))?;
        let sk = SecretKey::generate(&params, &mut rng);
        let keys =
            GaloisKeys::generate(&sk, &schedule.galois_elements(), &mut rng).map_err(|x| e(&x))?;
        let w = random_weights(&shape, &mut ChaCha8Rng::seed_from_u64(1));
        let x: Vec<i64> = (0..shape.input_len())
            .map(|i| (i % 256) as i64 - 128)
            .collect();
        let cts = schedule
            .pack_input(&x)
            .map_err(|x| e(&x))?
            .iter()
            .map(|v| Plaintext::encode_slots(&params, v).and_then(|pt| sk.encrypt(&pt, &mut rng)))
            .collect::<gazelle::he::Result<Vec<_>>>()
            .map_err(|x| e(&x))?;
        let layer = PreparedLayer::new(&schedule, &w, gazelle::sched::Scheduler::global())
            .map_err(|x| e(&x))?;
        Ok(Self { layer, cts, keys })
    }

    /// One homomorphic evaluation of the layer.
    pub fn run(&self) {
        let out = self
            .layer
            .eval(&self.cts, &self.keys, gazelle::sched::Scheduler::global())
            .expect("prepared layer evaluates");
        std::hint::black_box(out);
    }
}
