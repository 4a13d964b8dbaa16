//! Training: the classification loss ([`loss`]), its gradient on a batch ([`gradient`]), the
//! SGD optimiser with PyTorch's semantics ([`sgd`]) and a loop over seeded minibatches
//! ([`trainer`]) whose parameter snapshots feed the trajectory projections of
//! [`crate::project::trajectory`].

pub mod gradient;
pub mod loss;
pub mod sgd;
pub mod trainer;
