//! `emo serve`: load a saved model and its encoder as `emo classify` does,
//! then hand them to the server ([`crate::serve`]), which owns everything
//! about HTTP, batching and shutdown.

use super::load::{encoder_for, when_none_for};
use crate::cli::ServeArgs;
use crate::model::SavedModel;
use anyhow::Result;
use std::time::Duration;

pub fn run(args: &ServeArgs) -> Result<()> {
    let run = args.run_args();
    let device = run.device.resolve()?;
    let model = SavedModel::load(&args.model, device)?;
    let when_none = when_none_for(&model, &args.model, args.at_least_one)?;
    let (dir, explicit) = (args.model.clone(), args.encoder.clone());
    let load_encoder = move |model: &SavedModel| encoder_for(model, &dir, explicit.as_ref(), &run);
    crate::serve::run(
        model,
        load_encoder,
        crate::serve::Options {
            host: args.host.clone(),
            port: args.port,
            max_batch_tokens: args.max_batch_tokens as usize,
            max_wait: Duration::from_millis(args.max_wait_ms),
            queue: args.queue as usize,
            max_texts: args.max_texts as usize,
            max_text_chars: args.max_text_chars as usize,
            max_request_tokens: args.max_request_tokens as usize,
            payload_limit: args.payload_limit as usize,
            request_timeout: Duration::from_secs(args.request_timeout),
            write_timeout: Duration::from_secs(args.write_timeout),
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
            max_connections: args.max_connections as usize,
            allowed_hosts: args.allowed_hosts.clone(),
            when_none,
            raw_probabilities: args.raw_probabilities,
            model_dir: args.model.clone(),
        },
    )
}
