use super::*;
use crate::channel::MemChannel;
use crate::he::params::ParamSetId;

fn run_mem(model_name: &str, inputs: &[Vec<i64>]) -> Vec<QueryReport> {
    let model = crate::nn::builtin_model(model_name).unwrap();
    let server = Server::new(model.clone(), ServerConfig::insecure(ParamSetId::default())).unwrap();
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let mut c = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
        let reps: Vec<QueryReport> = inputs.iter().map(|x| c.query(x).unwrap()).collect();
        c.finish().unwrap();
        let s = h.join().unwrap().unwrap();
        assert_eq!(s.queries, inputs.len());
        reps
    })
}

#[test]
fn plan_of_every_model() {
    let params = ParamSetId::default().params().unwrap();
    for name in crate::nn::MODEL_NAMES {
        let model = crate::nn::builtin_model(name).unwrap();
        let plan = Plan::new(&model, &params).unwrap();
        let names: Vec<String> = plan.stages.iter().map(|s| s.name(&model)).collect();
        eprintln!("{name}: {names:#?}");
        let keys: Vec<usize> = plan.galois_groups().iter().map(|g| g.len()).collect();
        eprintln!("{name}: Galois keys per linear stage {keys:?}");
        assert!(matches!(plan.stages.last(), Some(Stage::Nonlinear { .. })));
    }
}

#[test]
fn minionn_mnist_matches_oracle_in_memory() {
    let model = crate::nn::builtin_model("mnist-minionn").unwrap();
    let set = crate::data::bundled(crate::data::MNIST_TEST.name).unwrap();
    let x = model.input().encode_fixed(set.image(0));
    let reps = run_mem("mnist-minionn", std::slice::from_ref(&x));
    assert_eq!(reps[0].logits, model.infer_fixed(&x).unwrap());
    eprintln!("{}", reps[0].table());
}
