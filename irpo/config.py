"""IRPO section: the reward model, DPO, and the alternating loop (METHOD.md sections 3 and 4)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from auction.strict_config import StrictModel


class RewardModelConfig(StrictModel):
    encoder: str = Field("all-MiniLM-L6-v2", description="frozen text encoder: the packaged MiniLM, `minilm-static` "
                         "(token vectors distilled from it, ~80x faster: judge.static_encoder) or an HF dir")
    user_embedding_dim: int = Field(64, ge=1)
    ad_embedding_dim: int = Field(32, ge=1)
    hidden_dims: tuple[int, ...] = (128, 64, 32)
    mention_context: bool = Field(True, description="ours: also embed the sentence around each mention (with "
                                  "the whole answer's embedding alone the model could not tell a native placement)")
    ad_relevance: bool = Field(False, description="ours: also read the ad's title, and its element-wise products "
                               "with the profile-and-question and the mention sentence embeddings (a learnt "
                               "similarity: relevance otherwise reaches the MLP only through ID embeddings)")
    # run W3 against W1 (docs/EXPERIMENTS.md): R vs exact R 0.65/0.43 -> 0.72/0.76 in epochs 1/2, final 0.40 -> 0.55
    similarities: bool = Field(True, description="ours: also read the cosine similarities of the ad's title and "
                               "category with the profile-and-question, the answer and the mention sentence, through "
                               "the MLP and a linear term (a similarity the model need not learn from few clicks)")
    similarity_parts: bool = Field(False, description="ours: also the ad's similarity with the question alone and "
                                   "with the user's closest interest (the profile-and-question text blurs the two)")
    other_ads: bool = Field(False, description="ours: also the ad's largest similarity with the other ads of its "
                            "answer (0 for a lone ad): a user clicks at most one ad of a kind, so an ad that repeats "
                            "another's kind earns almost nothing, and without this every second ad looks alike")
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(256, ge=1)
    epochs: int = Field(20, ge=1, description="most passes over one phase's clicks (a few thousand rows here)")
    holdout_share: float = Field(0.1, gt=0, lt=1, description="requests held out for log-loss and AUC")
    validation_share: float = Field(0.1, ge=0, lt=1, description="training requests set aside to pick the best "
                                    "epoch (early stopping); 0 keeps the last epoch")
    # run F (docs/EXPERIMENTS.md): a refit on 155 rows was noise (R vs exact R Spearman -0.15)
    min_holdout_auc: float = Field(0.55, ge=0, le=1, description="a refit with a lower held-out AUC, or a "
                                   "held-out log-loss above the base rate's, is degenerate: the previous model is kept")
    min_click_rows: int = Field(300, ge=1, description="fewer inserted ads than this in a reward phase: keep "
                                "the previous epoch's model (a fit on a handful of clicks is noise)")
    # a policy that shows one related ad per answer no longer shows what an unrelated ad's click rate is
    replay_epochs: int = Field(2, ge=0, description="ours: also fit on the reward-phase clicks of this many earlier "
                               "epochs (0: only the current policy's, the paper's refit); held-out figures and the "
                               "degenerate-refit rule stay on the current epoch's rows")


class DPOConfig(StrictModel):
    """DPO per policy phase. The ZeRO stage and worker count are the policy_trainer role's (ray_config.yaml)."""

    beta: float = Field(0.1, gt=0)
    # Pure DPO at 3e-4 flipped the tiny policy from some ads to none in 20 steps; at 5e-5 it hardly moved it.
    # With the NLL term on the winners, 5e-4 x 4 passes moves it without collapse (docs/EXPERIMENTS.md).
    lr: float = Field(5e-4, gt=0, description="tiny model from scratch; the paper's 1e-6 is for Qwen3-4B")
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    batch_size: int = Field(32, ge=1, description="prompts (a winner and its losers each) per optimizer step, "
                            "all workers together")
    micro_batch_size: int = Field(8, ge=1, description="prompts per worker per forward pass")
    epochs: int = Field(4, ge=1, description="passes over one phase's pairs")
    nll_weight: float = Field(1.0, ge=0, description="weight of the winners' per-token negative log-likelihood "
                              "added to the DPO loss (RPO; TRL's rpo_alpha): it keeps the winners' probability "
                              "from falling with the losers' (0: the paper's pure DPO)")
    dpo_weight: float = Field(1.0, ge=0, description="weight of the DPO term (0 with nll_weight > 0: fine-tuning "
                              "on the winners alone, an ablation)")
    bf16: bool = Field(True, description="used where the hardware supports it (GPUs); CPUs train in fp32")
    max_kl: float | None = Field(None, gt=0, description="ours: end the policy phase once the KL(pi_ref || pi) "
                                 "estimate on the sampled answers, averaged over the last `kl_window` optimizer "
                                 "steps, exceeds this (None: run every pass); keeps the policy near what the reward "
                                 "model has seen")
    kl_window: int = Field(4, ge=1, description="optimizer steps the max_kl test averages over (one step's "
                           "estimate is noisy)")


class SFTConfig(StrictModel):
    """Supervised fine-tuning under Ray Train + DeepSpeed (the base build, the behaviour-cloning ceiling)."""

    epochs: int = Field(1, ge=1)
    lr: float = Field(1e-3, gt=0, description="2e-3 and 4e-3 learnt to read the prompt later (docs/EXPERIMENTS.md)")
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    batch_tokens: int = Field(1024, ge=64, description="padded tokens per optimizer step, all workers together "
                              "(many small steps: fewer, larger ones left the model unable to pick related ads)")
    bf16: bool = Field(True, description="bf16 matrix products (autocast; weights and gradients stay fp32) where the "
                       "hardware has them (GPUs, CPUs with AVX-512 BF16: 1.2x faster here); fp32 elsewhere")
    seed: int = 0


class BasePolicyConfig(StrictModel):
    """The tiny base policy: architecture and supervised warm start (the paper's 'pre-trained LLM')."""

    hidden_size: int = Field(192, ge=8)
    layers: int = Field(4, ge=1)
    heads: int = Field(4, ge=1)
    pretrained_embeddings: bool = Field(True, description="token embeddings start from all-MiniLM-L6-v2's, and "
                                        "numbers carry their value (irpo.base.tiny_embeddings)")
    examples: int = Field(90000, ge=1, description="chats in the pre-training corpus (the shipped base: 90k, 9,071 "
                          "steps; 30k left its skills a draw between builds)")
    auction_share: float = Field(0.4, ge=0, lt=1, description="share of auction chats; the rest general tasks")
    unrelated_share: float = Field(0.1, ge=0, le=1, description="auction answers that add one unrelated ad")
    fresh_queries: bool = Field(False, description="each auction chat a request of its own, drawn like the "
                                "world's (never a test request), instead of one of the train split's 1,219 again")
    distinct_categories: bool = Field(False, description="the corpus's answers with several ads take them from "
                                      "different categories (complementary products, not two of one kind); "
                                      "the count stays 1-3 at random, the bids unseen")
    no_fit_ad_share: float = Field(1.0, ge=0, le=1, description="where no candidate relates to the query or the "
                                   "user, the share of corpus answers that insert an unrelated ad anyway (the "
                                   "rest insert none: an answer IRPO can then pick where no ad is worth showing)")
    format_error_rate: float = Field(0.02, ge=0, le=1, description="mentions broken on purpose in the corpus")
    sft: SFTConfig = SFTConfig()


class CeilingConfig(StrictModel):
    """Behaviour cloning of the optimal allocation: how far the policy model itself can go."""

    bid_draws: int = Field(12, ge=1, description="fresh bid draws per training query, each answered optimally")
    sft: SFTConfig = SFTConfig(epochs=2, lr=5e-4, warmup_ratio=0.02)


class WarmStartConfig(StrictModel):
    """A format warm start of an imported instruct model (`llm-auction base warm-start`): the tiny base's
    auction answers in English under the full prompt (irpo.base.warm_start)."""

    examples: int = Field(64, ge=1, description="chats of the format lesson, each a fresh request")
    followups: int = Field(3, ge=0, le=8, description="requests to mention a named candidate after each chat's "
                           "answer (cheap: they reuse its prompt), teaching the ID copy a cold model gets wrong")
    check_requests: int = Field(32, ge=1, description="held-out test requests answered (twice) to check it")
    sft: SFTConfig = SFTConfig(epochs=1, lr=1e-4, warmup_ratio=0.1, batch_tokens=2048)


class EvaluationConfig(StrictModel):
    """Held-out evaluation after every epoch, with the simulated user's exact expected clicks."""

    requests: int | None = Field(None, ge=1, description="test requests evaluated (None: the whole test split)")
    samples_per_request: int = Field(1, ge=1)
    probe_requests: int = Field(64, ge=2, description="requests of the monotonicity probe (its bid slope's standard "
                                "error shrinks as 1/sqrt of this)")
    probe_samples: int = Field(4, ge=1, description="answers per request and bid level in the probe")
    probe_bids: tuple[float, ...] = (1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
    sample_answers: int = Field(8, ge=0, description="answers per epoch shown in W&B's table")
    report_requests: int | None = Field(60, ge=1, description="test requests of the mechanism comparison that "
                                        "`train` writes at its end (None: all; 0 mechanisms skip it)")
    answers_per_request: int = Field(4, ge=1, description="answers each sampled mechanism draws per request in the "
                                     "comparison (its metrics average them; MOSAIC weighs its own candidates)")
    continuity_answers: int = Field(16, ge=1, description="answers per bid on the comparison's continuity curve")
    report_mechanisms: tuple[str, ...] = ("base", "llm_auction", "mosaic", "segment", "prominence", "optimum",
                                          "bid_blind_optimum")


class IRPOConfig(StrictModel):
    epochs: int = Field(3, ge=1, description="T, alternations of reward and policy phase")
    reward_queries: int | None = Field(160, ge=1, description="train queries per reward phase (None: all)")
    policy_queries: int | None = Field(600, ge=1, description="train queries per policy phase (None: all)")
    reward_samples_per_query: int = Field(10, ge=1, description="answers per query in the reward phase")
    policy_samples_per_query: int = Field(5, ge=2, description="M, answers ranked per query")
    reward_temperature: float | None = Field(None, gt=0, description="ours: sampling temperature of the reward "
                                             "phase (None: the policy's), to show pCTR placements the policy rarely "
                                             "makes")
    policy_temperature: float | None = Field(None, gt=0, description="ours: sampling temperature of the policy "
                                             "phase's M answers (None: the policy's); as the policy sharpens its M "
                                             "answers grow alike and the best of them falls")
    delta_th: float = Field(10.0, ge=0, description="a loser's reward is more than this below the winner's")
    pair_losers: Literal["all", "same_count"] = Field(
        "same_count", description="losers of a prompt: every answer delta_th below the winner (the paper), or only those "
        "with as many ads as the winner (ours: pairs that contrast which ads, not how many)")
    reward: Literal["pctr", "clicks", "exact"] = Field(
        "pctr", description="click probabilities in R: the pCTR model (the method), the judge's realised clicks "
        "(the paper's Oracle), or the simulated user's exact probabilities (a diagnostic)")
    train_on_stale_reward: bool = Field(False, description="ours: when a reward phase keeps an earlier epoch's pCTR "
                                        "model (too few clicks, or a refit no better than chance), or its refit is "
                                        "degenerate with none to keep (epoch 1), still train the "
                                        "policy on it; off: that epoch's policy phase is skipped and the policy "
                                        "carries over (training on the stale model let the policy outrun it: "
                                        "docs/EXPERIMENTS.md, run U)")
    seed: int = 0
    evaluation: EvaluationConfig = EvaluationConfig()
    base: BasePolicyConfig = BasePolicyConfig()
    ceiling: CeilingConfig = CeilingConfig()
    warm_start: WarmStartConfig = WarmStartConfig()
    reward_model: RewardModelConfig = RewardModelConfig()
    dpo: DPOConfig = DPOConfig()

    @property
    def fits_reward_model(self) -> bool:
        """Whether each epoch fits the pCTR model: only R with pCTR click probabilities needs one."""
        return self.reward == "pctr"
