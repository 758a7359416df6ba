//! The page `emo serve` answers at `/`, in a real browser: headless Chromium
//! (Debian's `chromium`, which `make test` installs) driven over the DevTools
//! protocol. It types a text, presses Classify, and reads the bars, which must
//! be the server's own answer for that text, for a single- and a multi-label
//! model; a blank text shows the server's error; the link to the model's
//! training report opens it; and the page loads nothing from anywhere but the
//! server. Without a Chromium the test fails, saying how to get one.

use crate::common;
use crate::common::serve::Server;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The browser: `EMO_CHROMIUM`, else the first of the usual names on `PATH`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("EMO_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the page test needs a headless Chromium and found none on PATH: `make test` installs \
         Debian's `chromium` (scripts/setup_browser.sh); elsewhere install Chromium or Chrome, \
         or set EMO_CHROMIUM=/path/to/chromium"
    );
}

/// A headless Chromium and one page in it, spoken to over
/// `--remote-debugging-pipe`: JSON messages ended by a NUL byte, commands on
/// the browser's fd 3 and answers on its fd 4 (no port, no WebSocket).
struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// Events seen so far (messages without an id).
    events: Vec<Value>,
    session: String,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let log = profile.path().join("chromium.log");
        // The shell puts our pipes on the fds the protocol uses.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
        let commands = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(out);
            loop {
                let mut buf = Vec::new();
                if out.read_until(0, &mut buf).unwrap_or(0) == 0 {
                    return;
                }
                buf.pop();
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            commands,
            messages,
            next_id: 0,
            events: Vec::new(),
            session: String::new(),
            log,
            _profile: profile,
        };
        let target = b.command("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = b.command(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.command("Network.enable", json!({}));
        b
    }

    /// Sends one command (to the page once attached) and waits for its result.
    fn command(&mut self, method: &str, params: Value) -> Value {
        self.try_command(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// [`Browser::command`], with the protocol's error as an `Err`.
    fn try_command(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        self.commands.flush().unwrap();
        loop {
            let m = self
                .messages
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!(
                        "Chromium did not answer {method}: {}",
                        std::fs::read_to_string(&self.log).unwrap_or_default()
                    )
                });
            if m["id"] == json!(id) {
                return match m.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(m["result"].clone()),
                };
            }
            self.events.push(m);
        }
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// [`Browser::eval`], with an exception (or a page mid-navigation) as an `Err`.
    fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let r = self.try_command(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        match r.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Waits until `condition` (JavaScript) holds in the page, across a navigation.
    fn wait_for(&mut self, condition: &str) {
        let start = Instant::now();
        while self.try_eval(&format!("Boolean({condition})")) != Ok(json!(true)) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the page never got to {condition}: {:?}",
                self.try_eval("document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn open(&mut self, url: &str) {
        self.command("Page.navigate", json!({ "url": url }));
        self.wait_for("document.readyState === 'complete'");
    }

    /// A left click at the centre of the element with this id, as a person's.
    fn click(&mut self, id: &str) {
        let at = self.eval(&format!(
            "(() => {{ const r = document.getElementById('{id}').getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        for kind in ["mousePressed", "mouseReleased"] {
            self.command(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": at[0], "y": at[1], "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Types `text` into the text box, replacing what it held, as keystrokes would.
    fn type_text(&mut self, text: &str) {
        self.eval(
            "(() => { const t = document.getElementById('text'); t.focus(); t.select(); })()",
        );
        if text.is_empty() {
            self.command(
                "Input.dispatchKeyEvent",
                json!({ "type": "keyDown", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8 }),
            );
        } else {
            self.command("Input.insertText", json!({ "text": text }));
        }
    }

    /// Every URL the page has asked for so far.
    fn requested(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(String::from))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A model folder with a training report beside it, as the page links one.
fn with_report(model: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join("served");
    std::fs::create_dir_all(copy.join("report")).unwrap();
    for entry in std::fs::read_dir(model).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        copy.join("report/index.html"),
        "<!doctype html><title>the training report</title><p>report</p>",
    )
    .unwrap();
    copy
}

/// The bars the page shows: (label, percentage) per row, and its verdict line.
fn bars(b: &mut Browser) -> (Vec<(String, f64)>, String) {
    let rows = b.eval(
        "JSON.stringify([...document.querySelectorAll('#bars .row')].map(r => \
         [r.children[0].textContent, r.children[2].textContent]))",
    );
    let rows: Vec<(String, String)> = serde_json::from_str(rows.as_str().unwrap()).unwrap();
    let rows = rows
        .into_iter()
        .map(|(label, p)| (label, p.trim_end_matches('%').parse::<f64>().unwrap()))
        .collect();
    let verdict = b.eval("document.getElementById('verdict').textContent");
    (rows, verdict.as_str().unwrap().to_string())
}

#[test]
fn the_page_shows_the_servers_answer_as_bars_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let single = common::shared_small_carer("ib");
    let multi = common::shared_multilabel();
    let text = "I can't believe you remembered my birthday, thank you so much!";
    let mut browser = Browser::launch();
    for (i, model) in [single, multi].iter().enumerate() {
        let served = with_report(model, &dir.path().join(i.to_string()));
        let server = Server::start(&served, &[]);
        let origin = format!("http://127.0.0.1:{}", server.port);
        let labels = server.get("/v1/model").json()["labels"]
            .as_array()
            .unwrap()
            .len();
        let expected = server
            .post("/v1/classify", &json!({ "text": text, "top_k": labels }))
            .json()["results"][0]
            .clone();

        browser.events.clear();
        browser.open(&format!("{origin}/"));
        browser.wait_for("document.getElementById('about').textContent.includes('labels')");
        browser.type_text(text);
        browser.click("go");
        browser.wait_for("document.querySelectorAll('#bars .row').length > 0");
        let (rows, verdict) = bars(&mut browser);

        // One bar per label, in the server's order, at the server's probability.
        let top = expected["top"].as_array().unwrap();
        assert_eq!(rows.len(), top.len(), "{rows:?} vs {expected}");
        for ((label, shown), want) in rows.iter().zip(top) {
            let p = want
                .get("confidence")
                .or_else(|| want.get("probability"))
                .and_then(Value::as_f64)
                .unwrap();
            assert_eq!(label, want["label"].as_str().unwrap());
            assert!(
                (shown - p * 100.0).abs() <= 0.051,
                "{label}: {shown}% vs {p}"
            );
        }
        let want_verdict = match expected.get("labels") {
            Some(Value::Array(ls)) if ls.is_empty() => "(no emotion)".to_string(),
            Some(Value::Array(ls)) => ls
                .iter()
                .map(|l| l["label"].as_str().unwrap())
                .collect::<Vec<_>>()
                .join(", "),
            _ => expected["label"].as_str().unwrap().to_string(),
        };
        assert_eq!(verdict, want_verdict);

        // A blank text: the server's error, no bars.
        browser.type_text("");
        browser.click("go");
        browser.wait_for("document.getElementById('error').textContent.length > 0");
        let error = browser.eval("document.getElementById('error').textContent");
        assert!(error.as_str().unwrap().contains("empty"), "{error}");
        assert_eq!(
            browser.eval("document.querySelectorAll('#bars .row').length"),
            json!(0)
        );

        // Nothing but the server was asked for anything.
        let requested = browser.requested();
        assert!(
            requested.iter().any(|u| u.ends_with("/v1/classify")),
            "{requested:?}"
        );
        for url in &requested {
            assert!(
                url.starts_with(&origin) || url == "about:blank",
                "the page fetched {url}"
            );
        }

        // The training report's link opens it.
        browser.wait_for("document.getElementById('report-link') !== null");
        browser.click("report-link");
        browser.wait_for("document.title === 'the training report'");
    }
}
