//! Embeddings with their labels, on the device where heads are trained. This is
//! the one type every method sees; it refuses what would silently poison a head
//! (NaN or infinite values, labels out of range). Like the data it comes from,
//! it is generic over the label type: the targets a loss reads are class indices
//! for single-label data and an indicator matrix for multi-label data.

use crate::data::{Label, LabelSet};
use crate::embed::Matrix;
use crate::input_error;
use anyhow::Result;
use tch::{Device, Kind, Tensor};

/// How a label type becomes the training target tensor.
pub trait Targets: Label {
    /// `labels` as a tensor on the CPU: `[n]` i64 class indices for single-label
    /// data, `[n, n_classes]` f32 0/1 for multi-label data.
    fn targets(labels: &[Self], n_classes: usize) -> Tensor;
}

impl Targets for usize {
    fn targets(labels: &[usize], _: usize) -> Tensor {
        let y: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
        Tensor::from_slice(&y)
    }
}

impl Targets for LabelSet {
    fn targets(labels: &[LabelSet], n_classes: usize) -> Tensor {
        let mut y = vec![0f32; labels.len() * n_classes];
        for (i, set) in labels.iter().enumerate() {
            for &c in set.classes() {
                y[i * n_classes + c] = 1.0;
            }
        }
        Tensor::from_slice(&y).view([labels.len() as i64, n_classes as i64])
    }
}

pub struct Features<L = usize> {
    /// `[n, d]` f32.
    pub x: Tensor,
    /// The same labels as `labels`, as [`Targets::targets`] lays them out.
    pub y: Tensor,
    pub labels: Vec<L>,
    pub n_classes: usize,
}

impl<L: Targets> Features<L> {
    /// `what` names the data in errors ("training split", a file name …).
    pub fn new(
        what: &str,
        m: &Matrix,
        labels: &[L],
        n_classes: usize,
        device: Device,
    ) -> Result<Features<L>> {
        if m.rows != labels.len() {
            return Err(input_error!(
                "{what}: {} vectors but {} labels",
                m.rows,
                labels.len()
            ));
        }
        if let Some(i) = m.data.iter().position(|v| !v.is_finite()) {
            return Err(input_error!(
                "{what}: row {} has a non-finite feature ({}); refusing to train or predict on it",
                i / m.cols.max(1),
                m.data[i]
            ));
        }
        if let Some(&y) = labels
            .iter()
            .flat_map(|l| l.classes())
            .find(|&&y| y >= n_classes)
        {
            return Err(input_error!(
                "{what}: label {y} out of range for {n_classes} classes"
            ));
        }
        Ok(Features {
            x: m.to_tensor().to(device),
            y: L::targets(labels, n_classes).to(device),
            labels: labels.to_vec(),
            n_classes,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The same tensors (not copied) for use on another thread: a `Tensor` may
    /// move between threads but not be shared by reference.
    pub fn shallow_clone(&self) -> Features<L> {
        Features {
            x: self.x.shallow_clone(),
            y: self.y.shallow_clone(),
            labels: self.labels.clone(),
            n_classes: self.n_classes,
        }
    }

    /// The examples at `rows`, in that order (a copy on the same device).
    pub fn rows(&self, rows: &[usize]) -> Features<L> {
        let idx: Vec<i64> = rows.iter().map(|&i| i as i64).collect();
        let idx = Tensor::from_slice(&idx).to(self.device());
        Features {
            x: self.x.index_select(0, &idx),
            y: self.y.index_select(0, &idx),
            labels: rows.iter().map(|&i| self.labels[i].clone()).collect(),
            n_classes: self.n_classes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.x.size()[1] as usize
    }

    pub fn device(&self) -> Device {
        self.x.device()
    }

    /// Whether each text carries each class, row-major `n × n_classes`: the
    /// same layout for both tasks, as calibration and quantification read it.
    pub fn truth(&self) -> Vec<bool> {
        let c = self.n_classes;
        let mut t = vec![false; self.labels.len() * c];
        for (r, y) in self.labels.iter().enumerate() {
            for &k in y.classes() {
                t[r * c + k] = true;
            }
        }
        t
    }

    /// A head's logits on these texts, row-major `n × n_classes`, on the CPU.
    pub fn logits_of(&self, head: &crate::head::Head) -> Result<Vec<f64>> {
        let z = head.logits(&self.x)?;
        Ok(
            Vec::<f32>::try_from(z.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1))?
                .into_iter()
                .map(f64::from)
                .collect(),
        )
    }

    /// Examples per class (a multi-label text counts for each class it carries).
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.n_classes];
        for y in &self.labels {
            for &k in y.classes() {
                c[k] += 1;
            }
        }
        c
    }

    /// log of the class priors n_j / N, as an f32 tensor on the device (for
    /// multi-label data, the log of the share of texts carrying each class).
    pub fn log_prior(&self) -> Tensor {
        let n = self.len() as f64;
        let v: Vec<f32> = self
            .counts()
            .iter()
            .map(|&c| (c as f64 / n).ln() as f32)
            .collect();
        Tensor::from_slice(&v)
            .to(self.device())
            .to_kind(Kind::Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize) -> Matrix {
        Matrix {
            rows,
            cols: 2,
            data: (0..rows * 2).map(|v| v as f32).collect(),
        }
    }

    #[test]
    fn multi_label_targets_are_an_indicator_matrix() {
        let sets: Vec<LabelSet> = [vec![0, 2], vec![], vec![1]]
            .into_iter()
            .map(|v| LabelSet::new(v).unwrap())
            .collect();
        let f = Features::new("t", &matrix(3), &sets, 3, Device::Cpu).unwrap();
        let y: Vec<Vec<f32>> = Vec::try_from(&f.y).unwrap();
        assert_eq!(y, [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        assert_eq!(f.counts(), [1, 1, 1]);
        let picked = f.rows(&[2, 0]);
        let y: Vec<Vec<f32>> = Vec::try_from(&picked.y).unwrap();
        assert_eq!(y, [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]);
        assert_eq!(picked.labels, [sets[2].clone(), sets[0].clone()]);
        let bad = [LabelSet::new(vec![3]).unwrap()];
        let e = Features::new("t", &matrix(1), &bad, 3, Device::Cpu)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("label 3 out of range for 3 classes"),
            "{e}"
        );
    }

    #[test]
    fn single_label_targets_are_class_indices() {
        let f = Features::new("t", &matrix(3), &[2usize, 0, 2], 3, Device::Cpu).unwrap();
        assert_eq!(Vec::<i64>::try_from(&f.y).unwrap(), [2, 0, 2]);
        assert_eq!(f.y.kind(), Kind::Int64);
        assert_eq!(f.counts(), [1, 0, 2]);
    }
}
