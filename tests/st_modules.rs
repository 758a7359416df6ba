//! sentence-transformers' modules and prompts, held to Python sentence-transformers:
//! folders with random weights (a MiniLM-shaped BERT from `scripts/gpu_check.py
//! make-model`, modules saved by sentence-transformers' own classes through
//! `make-modules`) embedded by emo and by `SentenceTransformer.encode` with the same
//! prompt, cosine ≥ 0.99999 text by text and, where poolings are concatenated, part
//! by part. Then what emo refuses: every module, option or prompt it does not run
//! exits 2 with one line naming it. Python comes from `make pyenv`.

use crate::common;
use crate::common::{cosine, emo, gpu_check_many, read_npy, write};
use emo::embed::{embed_texts, EmbedOptions, Encoder, Matrix, Pooling};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const PROMPTS: [&str; 4] = [
    "--prompt",
    "query=query: ",
    "--prompt",
    "passage=Represent this passage for retrieval: ",
];

/// The folders and what sentence-transformers made of the texts, built once for
/// all tests in one Python process (it starts slowly).
struct Fixture {
    root: PathBuf,
    texts: Vec<String>,
}

impl Fixture {
    fn folder(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// sentence-transformers' vectors `[texts, dim]` of run `name`.
    fn st(&self, name: &str) -> (usize, usize, Vec<f32>) {
        read_npy(&self.root.join(format!("{name}.npy")))
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("st_modules");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let texts: Vec<String> = common::fixture("parity_minilm.json")["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["text"].as_str().unwrap().to_string())
            .filter(|t| !t.contains('\n'))
            .collect();
        assert!(texts.len() >= 30);
        let txt = write(&root, "texts.txt", (texts.join("\n") + "\n").as_bytes());
        let r = |p: &str| root.join(p).to_string_lossy().into_owned();
        let shape = emo::paths::default_model();
        let modules = |name: &str, options: &[&str]| -> Vec<String> {
            ["make-modules", &r("base"), &r(name)]
                .iter()
                .chain(options)
                .map(|s| s.to_string())
                .collect()
        };
        let embed = |folder: &str, run: &str, prompt: Option<&str>| -> Vec<String> {
            let mut v: Vec<String> = ["st-embed", &r(folder), &txt.to_string_lossy()]
                .iter()
                .map(|s| s.to_string())
                .collect();
            v.extend([r(&format!("{run}.npy")), "cpu".into(), "8".into()]);
            if let Some(p) = prompt {
                v.extend(["--prompt-name".into(), p.into()]);
            }
            v
        };
        let all_modes = "lasttoken,weightedmean,cls,max,mean_sqrt_len_tokens,mean";
        let jobs: Vec<Vec<String>> = vec![
            vec![
                "make-model".into(),
                shape.to_string_lossy().into_owned(),
                r("base"),
            ],
            // Every mode, concatenated in an order of its own, the prompt left out.
            modules(
                "pooling",
                &[
                    &["--pooling", all_modes, "--no-include-prompt"][..],
                    &PROMPTS,
                    &["--default-prompt", "query"],
                ]
                .concat(),
            ),
            embed("pooling", "pooling-default", None),
            embed("pooling", "pooling-passage", Some("passage")),
            embed("pooling", "pooling-none", Some("")),
            // The flags of older folders: sentence-transformers' own order, not ours.
            modules(
                "legacy",
                &[
                    &[
                        "--legacy-pooling",
                        "--pooling",
                        "lasttoken,weightedmean,cls",
                    ][..],
                    &PROMPTS,
                ]
                .concat(),
            ),
            embed("legacy", "legacy-query", Some("query")),
            modules(
                "dense",
                &[
                    &[
                        "--dense",
                        "384:128:Tanh",
                        "--dense",
                        "128:96:Identity:nobias",
                        "--normalize",
                    ][..],
                    &PROMPTS,
                ]
                .concat(),
            ),
            embed("dense", "dense-query", Some("query")),
            modules(
                "activations",
                &[
                    "--pooling",
                    "cls",
                    "--dense",
                    "384:256:GELU",
                    "--dense",
                    "256:192:ReLU",
                    "--dense",
                    "192:64:Sigmoid",
                ],
            ),
            embed("activations", "activations", None),
        ];
        gpu_check_many(&root, &jobs);
        Fixture { root, texts }
    })
}

fn embed(enc: &Encoder, texts: &[String]) -> Matrix {
    let opts = EmbedOptions {
        batch_size: 8,
        cache_dir: None,
        progress: false,
        ..EmbedOptions::default()
    };
    embed_texts(enc, texts, &opts).unwrap().0
}

/// emo's vectors (from `enc`) against sentence-transformers' run `run`, text by
/// text and, for `parts` concatenated poolings, part by part; returns the lowest cosine.
fn assert_matches(enc: &Encoder, ours: &Matrix, f: &Fixture, run: &str, parts: usize) -> f64 {
    let (rows, cols, st) = f.st(run);
    assert_eq!((rows, cols), (ours.rows, ours.cols), "{run}: shape");
    let part = cols / parts;
    let mut worst = 1.0f64;
    for i in 0..rows {
        let theirs = &st[i * cols..(i + 1) * cols];
        for p in 0..parts {
            let span = p * part..(p + 1) * part;
            let c = cosine(&ours.row(i)[span.clone()], &theirs[span]);
            worst = worst.min(c);
            assert!(
                c >= 0.99999,
                "{run}: text {i} {:?}, part {p}: cosine {c:.7}",
                f.texts[i]
            );
        }
    }
    // The check could fail: a vector of another token sequence is far from this
    // one's. Measured on vectors less their mean over the texts, since a Sigmoid
    // layer, say, gives every text a large common part; on those, the texts' own
    // vectors must still agree.
    let mean: Vec<f32> = (0..cols)
        .map(|c| (0..rows).map(|i| ours.row(i)[c]).sum::<f32>() / rows as f32)
        .collect();
    let centred = |v: &[f32]| -> Vec<f32> { v.iter().zip(&mean).map(|(a, m)| a - m).collect() };
    let ours_c: Vec<Vec<f32>> = (0..rows).map(|i| centred(ours.row(i))).collect();
    let st_c: Vec<Vec<f32>> = (0..rows)
        .map(|i| centred(&st[i * cols..(i + 1) * cols]))
        .collect();
    let tokens: Vec<Vec<i64>> = f.texts.iter().map(|t| enc.tokenize(t).unwrap()).collect();
    let mut closest_other = -1.0f64;
    for i in 0..rows {
        let own = cosine(&ours_c[i], &st_c[i]);
        assert!(
            own >= 0.9999,
            "{run}: text {i}, less the mean: cosine {own:.7}"
        );
        for j in (0..rows).filter(|&j| tokens[j] != tokens[i]) {
            closest_other = closest_other.max(cosine(&ours_c[i], &st_c[j]));
        }
    }
    eprintln!(
        "{run}: lowest cosine {worst:.8}, closest pair of different texts {closest_other:.6}"
    );
    assert!(
        closest_other < 0.999,
        "{run}: texts too alike ({closest_other})"
    );
    worst
}

#[test]
fn every_pooling_mode_concatenated_with_the_prompt_left_out() {
    let f = fixture();
    let mut enc = Encoder::load(&f.folder("pooling"), tch::Device::Cpu).unwrap();
    let id = enc.identity().clone();
    assert_eq!(id.pooling, Pooling::LastToken);
    assert_eq!(
        id.pooling_concat,
        [
            Pooling::WeightedMean,
            Pooling::Cls,
            Pooling::Max,
            Pooling::MeanSqrtLen,
            Pooling::Mean
        ]
    );
    assert_eq!(id.dim, 6 * 384);
    // The folder's default prompt applies unless told otherwise, as in encode().
    assert_eq!(id.prompt.as_deref(), Some("query: "));
    assert!(id.pooling_excludes_prompt);
    assert_matches(&enc, &embed(&enc, &f.texts), f, "pooling-default", 6);

    enc.use_prompt("passage").unwrap();
    let passage = enc.identity().clone();
    assert_matches(&enc, &embed(&enc, &f.texts), f, "pooling-passage", 6);

    enc.use_prompt("").unwrap();
    let none = enc.identity().clone();
    assert_eq!(
        (none.prompt.as_deref(), none.pooling_excludes_prompt),
        (None, false)
    );
    assert_matches(&enc, &embed(&enc, &f.texts), f, "pooling-none", 6);

    // Three prompts, three sets of vectors: three cache keys.
    let keys = [id.cache_key(), passage.cache_key(), none.cache_key()];
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
}

#[test]
fn legacy_pooling_flags_concatenate_in_sentence_transformers_order() {
    let f = fixture();
    let mut enc = Encoder::load(&f.folder("legacy"), tch::Device::Cpu).unwrap();
    assert_eq!(enc.identity().prompt, None, "no default prompt");
    enc.use_prompt("query").unwrap();
    let id = enc.identity();
    assert_eq!(
        (id.pooling, id.pooling_concat.as_slice()),
        (
            Pooling::Cls,
            &[Pooling::WeightedMean, Pooling::LastToken][..]
        )
    );
    assert_eq!(id.prompt.as_deref(), Some("query: "));
    // include_prompt is true here: the prompt's tokens are pooled like the text's.
    assert!(!id.pooling_excludes_prompt);
    assert_matches(&enc, &embed(&enc, &f.texts), f, "legacy-query", 3);
}

#[test]
fn dense_layers_change_the_dimension_before_normalize() {
    let f = fixture();
    let mut enc = Encoder::load(&f.folder("dense"), tch::Device::Cpu).unwrap();
    let plain = enc.identity().clone();
    enc.use_prompt("query").unwrap();
    let id = enc.identity().clone();
    assert_eq!(id.dim, 96);
    assert!(id.normalize);
    let dense: Vec<(&str, usize)> = id
        .dense
        .iter()
        .map(|d| (d.activation.as_str(), d.out_features))
        .collect();
    assert_eq!(dense, [("Tanh", 128), ("Identity", 96)]);
    assert_ne!(plain.cache_key(), id.cache_key());
    let ours = embed(&enc, &f.texts);
    for i in 0..ours.rows {
        let norm: f32 = ours.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    assert_matches(&enc, &ours, f, "dense-query", 1);
}

#[test]
fn dense_activations_gelu_relu_sigmoid() {
    let f = fixture();
    let enc = Encoder::load(&f.folder("activations"), tch::Device::Cpu).unwrap();
    let id = enc.identity();
    assert_eq!(
        (id.dim, id.normalize, id.pooling),
        (64, false, Pooling::Cls)
    );
    let acts: Vec<&str> = id.dense.iter().map(|d| d.activation.as_str()).collect();
    assert_eq!(acts, ["GELU", "ReLU", "Sigmoid"]);
    assert_matches(&enc, &embed(&enc, &f.texts), f, "activations", 1);
}

#[test]
fn minilm_identity_has_none_of_the_new_fields() {
    let enc = Encoder::load(&emo::paths::default_model(), tch::Device::Cpu).unwrap();
    let json = serde_json::to_value(enc.identity()).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "dim",
            "lower_case",
            "max_seq_length",
            "name",
            "normalize",
            "pooling",
            "strip_accents",
            "weights_sha256"
        ]
    );
    assert_eq!(
        enc.identity().cache_key(),
        "be5c973bc06b5bf4f1046a1665952de8"
    );
}

// ---------------------------------------------------------------- refusals

/// A folder with MiniLM's transformer (its weights linked, not copied) and
/// `modules.json` as given; `extra` files written relative to it.
fn minilm_with(dir: &Path, modules: &str, extra: &[(&str, &str)]) -> PathBuf {
    let src = emo::paths::default_model();
    let out = dir.join("enc");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    for name in [
        "config.json",
        "sentence_bert_config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
    ] {
        std::fs::copy(src.join(name), out.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(src.join("model.safetensors"), out.join("model.safetensors"))
        .unwrap();
    std::fs::write(out.join("modules.json"), modules).unwrap();
    for (path, text) in extra {
        let p = out.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    out
}

fn modules_json(kinds: &[(&str, &str)]) -> String {
    let entries: Vec<serde_json::Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, (kind, path))| {
            serde_json::json!({"idx": i, "name": i.to_string(), "path": path, "type": kind})
        })
        .collect();
    serde_json::to_string(&entries).unwrap()
}

const TRANSFORMER: (&str, &str) = ("sentence_transformers.models.Transformer", "");
const POOLING: (&str, &str) = ("sentence_transformers.models.Pooling", "1_Pooling");
const MEAN: (&str, &str) = (
    "1_Pooling/config.json",
    r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#,
);
const DENSE_TANH: &str = r#"{"in_features": 384, "out_features": 8, "bias": true,
    "activation_function": "torch.nn.modules.activation.Tanh"}"#;

/// `emo embed` with the folder; returns (exit code, stderr).
fn embed_with(dir: &Path, encoder: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let input = write(dir, "in.txt", b"one text\nanother text\n");
    let o = emo()
        .args(["embed", "--device", "cpu", "--no-cache", "--input"])
        .arg(&input)
        .arg("--encoder")
        .arg(encoder)
        .arg("--out")
        .arg(dir.join("out.safetensors"))
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Exit 2, one line, naming every one of `names`.
fn refused(dir: &Path, encoder: &Path, extra: &[&str], names: &[&str]) {
    let (code, err) = embed_with(dir, encoder, extra);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for n in names {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
}

#[test]
fn unsupported_modules_exit_2_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for kind in [
        "sentence_transformers.models.LayerNorm",
        "sentence_transformers.models.WordEmbeddings",
        "sentence_transformers.models.CNN",
        "sentence_transformers.models.LSTM",
        "my_package.CustomPooling",
    ] {
        let enc = minilm_with(
            dir,
            &modules_json(&[TRANSFORMER, POOLING, (kind, "2_X")]),
            &[MEAN],
        );
        refused(dir, &enc, &[], &[kind, "modules.json"]);
    }
    // A pooling of another kind in Pooling's place.
    let kind = "sentence_transformers.models.WeightedLayerPooling";
    let enc = minilm_with(dir, &modules_json(&[TRANSFORMER, (kind, "1_W")]), &[]);
    refused(dir, &enc, &[], &[kind, "modules.json"]);
    // Normalize before Dense: not sentence-transformers' usual order, not run.
    let enc = minilm_with(
        dir,
        &modules_json(&[
            TRANSFORMER,
            POOLING,
            ("sentence_transformers.models.Normalize", "2_Normalize"),
            ("sentence_transformers.models.Dense", "3_Dense"),
        ]),
        &[MEAN, ("3_Dense/config.json", DENSE_TANH)],
    );
    refused(
        dir,
        &enc,
        &[],
        &["sentence_transformers.models.Dense", "position 3"],
    );
    // No Pooling at all.
    let enc = minilm_with(dir, &modules_json(&[TRANSFORMER]), &[]);
    refused(dir, &enc, &[], &["no Pooling module"]);
    // An unknown pooling mode.
    let enc = minilm_with(
        dir,
        &modules_json(&[TRANSFORMER, POOLING]),
        &[(
            "1_Pooling/config.json",
            r#"{"embedding_dimension": 384, "pooling_mode": ["mean", "median"]}"#,
        )],
    );
    refused(dir, &enc, &[], &["'median'", "1_Pooling/config.json"]);
}

#[test]
fn dense_without_safetensors_or_with_another_activation_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let dense = modules_json(&[
        TRANSFORMER,
        POOLING,
        ("sentence_transformers.models.Dense", "2_Dense"),
    ]);
    let enc = minilm_with(
        dir,
        &dense,
        &[
            MEAN,
            ("2_Dense/config.json", DENSE_TANH),
            ("2_Dense/pytorch_model.bin", "not read"),
        ],
    );
    refused(
        dir,
        &enc,
        &[],
        &["2_Dense/pytorch_model.bin", "model.safetensors"],
    );
    let softplus = DENSE_TANH.replace("activation.Tanh", "activation.Softplus");
    let enc = minilm_with(
        dir,
        &dense,
        &[MEAN, ("2_Dense/config.json", softplus.as_str())],
    );
    refused(
        dir,
        &enc,
        &[],
        &[
            "torch.nn.modules.activation.Softplus",
            "2_Dense/config.json",
        ],
    );
    let residual = DENSE_TANH.replace("\"bias\"", "\"use_residual\": true, \"bias\"");
    let enc = minilm_with(
        dir,
        &dense,
        &[MEAN, ("2_Dense/config.json", residual.as_str())],
    );
    refused(dir, &enc, &[], &["use_residual"]);
}

#[test]
fn unknown_prompts_exit_2_listing_the_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let st_config = (
        "config_sentence_transformers.json",
        r#"{"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": null}"#,
    );
    let enc = minilm_with(
        dir,
        &modules_json(&[TRANSFORMER, POOLING]),
        &[MEAN, st_config],
    );
    refused(
        dir,
        &enc,
        &["--prompt", "nope"],
        &[
            "'nope'",
            "passage, query",
            "config_sentence_transformers.json",
        ],
    );
    // The default must name one of the prompts, as sentence-transformers demands.
    let bad_default = (
        "config_sentence_transformers.json",
        r#"{"prompts": {"query": "query: "}, "default_prompt_name": "search"}"#,
    );
    let enc = minilm_with(
        dir,
        &modules_json(&[TRANSFORMER, POOLING]),
        &[MEAN, bad_default],
    );
    refused(dir, &enc, &[], &["'search'", "query"]);
    // A folder without prompts has none to offer.
    let enc = minilm_with(dir, &modules_json(&[TRANSFORMER, POOLING]), &[MEAN]);
    refused(dir, &enc, &["--prompt", "query"], &["'query'", "none"]);
}

// ---------------------------------------------------------------- prompts in saved models

#[test]
fn a_model_trained_with_a_prompt_classifies_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let enc = minilm_with(
        dir,
        &modules_json(&[
            TRANSFORMER,
            POOLING,
            ("sentence_transformers.models.Normalize", "2_Normalize"),
        ]),
        &[
            MEAN,
            (
                "config_sentence_transformers.json",
                r#"{"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query"}"#,
            ),
        ],
    );
    let model = dir.join("model");
    let o = emo()
        .args(["train", "--device", "cpu", "--method", "ncm", "--train"])
        .arg(common::small_carer_csv(dir))
        .arg("--encoder")
        .arg(&enc)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The folder's default applied, and the user was told.
    assert!(err.contains("default prompt 'query'"), "{err}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["encoder"]["prompt"], "query: ");

    let classify = |extra: &[&str]| {
        let o = emo()
            .args([
                "classify",
                "--device",
                "cpu",
                "--output-format",
                "json",
                "--model",
            ])
            .arg(&model)
            .args(extra)
            .arg("i feel wonderful today")
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // No flag: the model's own prompt, silently.
    let (code, out, err) = classify(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "");
    let saved: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The same prompt named: the same answer.
    let (code, out, err) = classify(&["--prompt", "query"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        saved
    );
    // The prompt is the text put before every text, literally: the vectors
    // with it differ from those without, and are those of the texts with
    // "query: " written in front and no prompt.
    let texts: Vec<String> = ["i feel wonderful today", "this is so unfair", "i miss you"]
        .map(String::from)
        .to_vec();
    let mut e = Encoder::load(&enc, tch::Device::Cpu).unwrap();
    assert_eq!(e.identity().prompt.as_deref(), Some("query: "));
    let prompted = embed(&e, &texts);
    e.use_prompt("").unwrap();
    let bare = embed(&e, &texts);
    let written: Vec<String> = texts.iter().map(|t| format!("query: {t}")).collect();
    let literal = embed(&e, &written);
    assert!(
        prompted.data == literal.data,
        "the prompted vectors are not those of the texts written with the prompt in front"
    );
    for (i, t) in texts.iter().enumerate() {
        let c = cosine(prompted.row(i), bare.row(i));
        assert!(
            c < 0.999,
            "{t:?}: the prompt left the vector as it was ({c})"
        );
    }
    // And so through train and classify: a model trained with no prompt on
    // the texts with "query: " written in front is the same model, and answers
    // a text with "query: " in front as the prompted model answers the text;
    // without it, otherwise.
    let small = std::fs::read_to_string(common::small_carer_csv(dir)).unwrap();
    let mut reader = csv::Reader::from_reader(small.as_bytes());
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(reader.headers().unwrap()).unwrap();
    for r in reader.records() {
        let r = r.unwrap();
        writer
            .write_record([format!("query: {}", &r[0]).as_str(), &r[1]])
            .unwrap();
    }
    let prefixed = write(dir, "prefixed.csv", &writer.into_inner().unwrap());
    let literal_model = dir.join("literal-model");
    let o = emo()
        .args([
            "train", "--device", "cpu", "--method", "ncm", "--prompt", "",
        ])
        .arg("--train")
        .arg(&prefixed)
        .arg("--encoder")
        .arg(&enc)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(&literal_model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(model.join("head.safetensors")).unwrap(),
        std::fs::read(literal_model.join("head.safetensors")).unwrap()
    );
    let answer = |model: &Path, text: &str| {
        let o = emo()
            .args([
                "classify",
                "--device",
                "cpu",
                "--output-format",
                "json",
                "--model",
            ])
            .arg(model)
            .arg(text)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let item = v[0].as_object_mut().unwrap();
        item.remove("text");
        item.remove("id");
        v
    };
    let mut shown = saved.clone();
    shown[0].as_object_mut().unwrap().remove("text");
    shown[0].as_object_mut().unwrap().remove("id");
    assert_eq!(
        answer(&literal_model, "query: i feel wonderful today"),
        shown
    );
    assert_ne!(answer(&literal_model, "i feel wonderful today"), shown);
    // Another prompt, or none, is another encoder: refused.
    for (flag, says) in [("passage", "prompt \"passage: \""), ("", "no prompt")] {
        let (code, _, err) = classify(&["--prompt", flag]);
        assert_eq!(code, Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains(says) && err.contains("trained with prompt \"query: \""),
            "{err}"
        );
    }
}
