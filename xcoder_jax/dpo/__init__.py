"""Direct preference optimisation on verified/failed solution pairs (after SFT, instead of or
before GRPO).

`losses` holds the pure preference losses (`PREFERENCE_LOSSES`: sigmoid, ipo,
sigmoid_length_normalised) and the trainer's loss (`dpo_loss`);
`reference` the precomputed or on-the-fly reference log-probs; `trainer` the `DPOTrainer`.
"""
