//! Training-side computations. Today: the classification loss a loss landscape is drawn with.

pub mod loss;
