//! `emo serve` against clients that would stall it, through the real binary
//! and a real small model: clients that never read their answers, a forward
//! pass that fails inside libtorch, an inference thread that ends, a
//! tokenizer from another model, oversized texts and requests, and requests
//! for files outside the report. Each test here failed on the server before
//! these limits existed.
//!
//! The tests time the server, so they run one at a time ([`one_at_a_time`]):
//! on a 2-core machine two servers under load would time each other.

use crate::common;
use crate::common::serve::{http, parse, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

fn single_model() -> &'static Path {
    common::shared_small_carer("lws")
}

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

const TEXT: &str = "i feel so happy and grateful today";

/// A connection with a 4 KiB receive buffer (set before connecting, so the
/// window it offers stays small) that sends `body` to `path` and keeps the
/// connection open without reading.
fn send_and_never_read(port: u16, path: &str, body: &str) -> socket2::Socket {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    s.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = s.try_clone().unwrap().into();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    s
}

/// One GET on a fresh connection, and how long it took.
fn timed_get(port: u16, path: &str) -> (u16, Duration) {
    let start = Instant::now();
    let r = http(port, "GET", path, &[], b"").unwrap();
    (r.status, start.elapsed())
}

#[test]
fn clients_that_never_read_cannot_stall_the_server_or_its_shutdown() {
    let _one = one_at_a_time();
    // 600 clients (more than the 512 connections allowed) each ask for the
    // vectors of 256 texts, about a megabyte of JSON, and never read it.
    let mut server = Server::start(single_model(), &["--shutdown-timeout", "3"]);
    let texts: Vec<String> = (0..256).map(|i| format!("{TEXT} ({i})")).collect();
    let body = json!({ "texts": texts }).to_string();
    let clients: Vec<socket2::Socket> = (0..600)
        .map(|_| send_and_never_read(server.port, "/v1/embed", &body))
        .collect();
    // Let the server read them all (the queue takes 64, the rest get 429).
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..3 {
        let (status, took) = timed_get(server.port, "/health");
        assert_eq!(status, 200);
        assert!(
            took < Duration::from_secs(1),
            "/health took {took:?} with 600 clients holding connections: {}",
            server.log()
        );
    }
    assert!(
        server.metric_or_zero("emo_connections_closed_total{reason=\"idle\"}") > 0.0,
        "no idle connection was closed to make room"
    );
    // Answers are stalled in writes now; SIGTERM must not wait for them
    // past --shutdown-timeout.
    let start = Instant::now();
    server.terminate();
    let code = server.wait(Duration::from_secs(20));
    let took = start.elapsed();
    let log = server.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        took < Duration::from_secs(3 + 5),
        "SIGTERM took {took:?} with --shutdown-timeout 3: {log}"
    );
    let cut = log
        .lines()
        .find_map(|l| l.strip_prefix("emo serve: cut "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no count of connections cut: {log}"));
    assert!(cut >= 1, "{log}");
    drop(clients);
}

#[test]
fn a_client_that_takes_none_of_its_answer_is_cut_after_the_write_timeout() {
    let _one = one_at_a_time();
    let server = Server::start(single_model(), &["--write-timeout", "1"]);
    // About 4 MB of vectors: more than the socket buffers hold.
    let texts: Vec<String> = (0..1024).map(|i| format!("{TEXT} ({i})")).collect();
    let body = json!({ "texts": texts }).to_string();
    let client = send_and_never_read(server.port, "/v1/embed", &body);
    let mut stream: TcpStream = client.into();
    // The answer is ready within seconds; its write stalls; a second later
    // the server cuts the connection.
    let start = Instant::now();
    while server.metric_or_zero("emo_connections_closed_total{reason=\"write_timeout\"}") < 1.0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the stalled connection was not cut: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // What the client can still read is cut short: never the whole answer.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    let whole = parse(&raw).ok().and_then(|r| {
        let n: usize = r.header("Content-Length")?.parse().ok()?;
        Some(r.body.len() == n)
    });
    assert!(
        read.is_err() || whole != Some(true),
        "the client got its whole answer after the write timeout"
    );
    let (status, _) = timed_get(server.port, "/health");
    assert_eq!(status, 200);
}

#[test]
fn a_failing_forward_pass_is_answered_500_and_the_worker_goes_on() {
    let _one = one_at_a_time();
    // The second pass gets a token id past the vocabulary: libtorch fails
    // inside it, as it would on CUDA running out of memory.
    let server = Server::start_with_env(
        single_model(),
        &["--max-wait-ms", "0"],
        &[("EMO_SERVE_FAULT", "fail-pass:2")],
    );
    let first = server.post("/v1/classify", &json!({ "text": TEXT }));
    assert_eq!(first.status, 200, "{}", first.body);
    let failed = server.post("/v1/classify", &json!({ "text": TEXT }));
    assert_eq!(failed.status, 500, "{}", failed.body);
    let error = failed.json()["error"].as_str().unwrap().to_string();
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(!error.contains('/'), "a path in the error: {error}");
    let start = Instant::now();
    while !server
        .log()
        .contains("emo serve: a forward pass of 1 texts failed")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the failure is not logged: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The worker lives: the next request is answered as the first was.
    let again = server.post("/v1/classify", &json!({ "text": TEXT }));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["results"], first.json()["results"]);
    assert_eq!(server.get("/ready").status, 200);
    assert_eq!(server.metric("emo_failed_passes_total"), 1.0);
}

#[test]
fn an_inference_thread_that_ends_takes_the_process_down_non_zero() {
    let _one = one_at_a_time();
    let mut server =
        Server::start_with_env(single_model(), &[], &[("EMO_SERVE_FAULT", "end-worker:1")]);
    assert_eq!(server.get("/ready").status, 200);
    let r = http(
        server.port,
        "POST",
        "/v1/classify",
        &[("Content-Type", "application/json")],
        json!({ "text": TEXT }).to_string().as_bytes(),
    );
    if let Ok(r) = r {
        assert_eq!(r.status, 503, "{}", r.body);
    }
    let code = server.wait(Duration::from_secs(30));
    let log = server.log();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("the inference thread stopped"), "{log}");
    assert!(log.contains("a supervisor restarts the server"), "{log}");
}

/// The installed MiniLM folder with `edit` applied to its tokenizer.json
/// (the weights linked, not copied).
fn minilm_with_tokenizer(dir: &Path, edit: impl Fn(&mut Value)) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/models/all-MiniLM-L6-v2");
    let dst = dir.join("minilm-edited");
    copy_dir(&src, &dst);
    let path = dst.join("tokenizer.json");
    let mut t: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut t);
    std::fs::write(&path, t.to_string()).unwrap();
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else if e.file_name() == "model.safetensors" {
            std::os::unix::fs::symlink(e.path(), &to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

#[test]
fn a_tokenizer_with_ids_past_the_vocabulary_is_refused_at_load() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    // One added token numbered 30522: MiniLM's vocab_size is 30522 (ids 0-30521).
    let encoder = minilm_with_tokenizer(dir.path(), |t| {
        t["added_tokens"].as_array_mut().unwrap().push(json!({
            "id": 30522, "special": false, "content": "[EMOJI]", "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false
        }));
    });
    for args in [
        vec!["serve", "--port", "0"],
        vec!["classify", "--output-format", "jsonl"],
    ] {
        let mut cmd = common::emo();
        cmd.args(&args)
            .arg("--model")
            .arg(single_model())
            .arg("--encoder")
            .arg(&encoder)
            .args(["--device", "cpu"]);
        if args[0] == "classify" {
            cmd.arg(TEXT);
        }
        let o = cmd.output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(
            e.contains("30522") && e.contains("vocab_size") && e.contains("tokenizer.json"),
            "{e}"
        );
    }
}

#[test]
fn oversized_texts_and_requests_are_refused_at_once_and_delay_no_one() {
    let _one = one_at_a_time();
    let server = Server::start(
        single_model(),
        &["--payload-limit", "33554432", "--max-wait-ms", "0"],
    );
    let port = server.port;
    let small = json!({ "text": TEXT }).to_string();
    let post = move |body: &str| {
        let start = Instant::now();
        let r = http(
            port,
            "POST",
            "/v1/classify",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap();
        (r, start.elapsed())
    };
    let (r, _) = post(&small);
    assert_eq!(r.status, 200, "{}", r.body);

    // One text of 5 MB: refused, naming it, before any tokenising.
    let huge = json!({ "texts": [TEXT, "a".repeat(5 << 20)] }).to_string();
    let short = |body: &str| body.chars().take(300).collect::<String>();
    let (r, took) = post(&huge);
    assert_eq!(r.status, 422, "{}", short(&r.body));
    assert_eq!(r.json()["field"], "texts[1]", "{}", r.body);
    assert!(r.body.contains("--max-text-chars"), "{}", r.body);
    assert!(
        took < Duration::from_millis(100),
        "the refusal took {took:?}"
    );

    // Under the default body limit the same text is a 413, as fast.
    let (r, took) = {
        let plain = Server::start(single_model(), &[]);
        let start = Instant::now();
        let r = http(
            plain.port,
            "POST",
            "/v1/classify",
            &[("Content-Type", "application/json")],
            huge.as_bytes(),
        )
        .unwrap();
        (r, start.elapsed())
    };
    assert_eq!(r.status, 413, "{}", short(&r.body));
    assert!(took < Duration::from_millis(500), "the 413 took {took:?}");

    // 400 texts just under the character limit: seconds to tokenise (8 MB of
    // text), and past --max-request-tokens once truncated. While they are
    // tokenised, another client's requests keep their pace: the tokenising
    // is not on the inference thread, where each small request would wait
    // for all of it.
    let long: Vec<String> = (0..400)
        .map(|i| format!("{i} ") + &"so very happy today ".repeat(990))
        .collect();
    let big = json!({ "texts": long }).to_string();
    let mut quiet: Vec<Duration> = (0..5).map(|_| post(&small).1).collect();
    quiet.sort();
    let big_client = std::thread::spawn(move || post(&big));
    std::thread::sleep(Duration::from_millis(300));
    let mut during = Vec::new();
    while !big_client.is_finished() {
        let (r, took) = post(&small);
        assert_eq!(r.status, 200, "{}", r.body);
        during.push(took);
    }
    let (r, big_took) = big_client.join().unwrap();
    assert_eq!(r.status, 422, "{}", short(&r.body));
    assert!(
        r.body.contains("--max-request-tokens"),
        "{}",
        short(&r.body)
    );
    during.sort();
    let (median, worst) = (during[during.len() / 2], during[during.len() - 1]);
    eprintln!(
        "small requests: {:?} alone; {median:?} median, {worst:?} worst of {} during a {big_took:?} refusal",
        quiet[2],
        during.len()
    );
    // Relative bounds: the machine's speed varies, the ratio does not. Were
    // the tokenising on the inference thread, each small request would wait
    // for most of it, and few would fit in.
    assert!(
        median * 4 < big_took,
        "small requests took {median:?} (median) while another was tokenised for {big_took:?} \
         (alone: {:?}): they waited for the tokenising",
        quiet[2]
    );
}

#[test]
fn the_report_route_serves_only_the_reports_own_regular_files() {
    let _one = one_at_a_time();
    // A model folder that is its own report folder, holding what must not
    // be served: the manifest, the head, a link to a file outside.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    copy_dir(single_model(), &model);
    std::fs::write(model.join("index.html"), "<html>report</html>").unwrap();
    std::fs::write(model.join("metrics.json"), "{}").unwrap();
    std::fs::write(model.join(".hidden.html"), "hidden").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", model.join("passwd.html")).unwrap();
    std::os::unix::fs::symlink(model.join("index.html"), model.join("linked.html")).unwrap();
    let server = Server::start(&model, &["--allowed-hosts", "localhost,127.0.0.1"]);
    assert_eq!(server.get("/report/").status, 200);
    assert_eq!(server.get("/report/index.html").body, "<html>report</html>");
    assert_eq!(server.get("/report/metrics.json").status, 200);
    for path in [
        "/report/manifest.json",
        "/report/head.safetensors",
        "/report/passwd.html",
        "/report/linked.html",
        "/report/.hidden.html",
        "/report/..",
        "/report/%2e%2e",
        "/report/..%2fmodel%2fmanifest.json",
        "/report/%2e%2e%2fmodel%2fmanifest.json",
        "/report/%2fetc%2fpasswd",
        "/report/..%5cmanifest.json",
        "/report/index.html%00.png",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.contains("root:"), "{path}: {}", r.body);
    }
    // No server path in what the model route says.
    let info = server.get("/v1/model");
    assert_eq!(info.json()["model"], "model");
    assert!(
        !info.body.contains(&*dir.path().to_string_lossy()),
        "{}",
        info.body
    );
    // --allowed-hosts: another Host is refused (DNS rebinding), the listed ones answered.
    let raw = |host: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        write!(
            s,
            "GET /v1/model HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        parse(&out).unwrap()
    };
    let refused = raw(&format!("attacker.example:{}", server.port));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.json()["error"]
        .as_str()
        .unwrap()
        .contains("--allowed-hosts"));
    assert_eq!(raw(&format!("localhost:{}", server.port)).status, 200);
    assert_eq!(raw("127.0.0.1").status, 200);
}
