"""DPO loss and completion log-probs, and the pCTR model (the pieces the GPU check times)."""
import math

import pytest
import torch

from irpo.base.tiny_model import tiny_llama_config
from irpo.base.tiny_tokenizer import build_tiny_tokenizer
from irpo.dpo.loss import completion_logprobs, dpo_loss
from irpo.reward.model import PCTRModel, click_loss


@pytest.fixture(scope="module")
def model():
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(tiny_llama_config(build_tiny_tokenizer(), hidden=32, layers=1, heads=2)).eval()


def test_completion_logprobs_equal_the_full_log_softmax_summed_over_the_completion(model):
    ids = torch.randint(5, 400, (3, 20))
    mask = torch.ones_like(ids)
    completion = torch.zeros_like(ids)
    completion[0, 15:], completion[1, 10:], completion[2, 19:] = 1, 1, 1
    full = model(input_ids=ids, attention_mask=mask).logits.log_softmax(-1)
    expected = torch.stack([
        sum(full[b, t - 1, ids[b, t]] for t in range(1, 20) if completion[b, t]) for b in range(3)
    ])
    got = completion_logprobs(model, ids, mask, completion, chunk=4)
    assert torch.allclose(got, expected, atol=1e-5)


def test_dpo_loss_is_log2_when_policy_equals_reference_and_falls_as_the_margin_grows():
    zeros, group = torch.zeros(4), torch.arange(4)
    stats = dpo_loss(zeros, zeros, zeros, zeros, group, beta=0.1, prompts=4)
    assert stats.loss.item() == pytest.approx(math.log(2)) and stats.accuracy.item() == 0.0
    better = dpo_loss(torch.full((4,), 2.0), zeros, zeros, zeros, group, beta=0.1, prompts=4)
    assert better.loss.item() < math.log(2) and better.accuracy.item() == 1.0
    assert better.chosen_reward.item() == pytest.approx(0.2) and better.margin.item() == pytest.approx(0.2)


def test_dpo_loss_averages_over_prompts_each_prompt_over_its_losers():
    # prompt A has one loser (margin +1), prompt B has three losers (margins -1): mean of the prompts' means
    chosen = torch.tensor([1.0, -1.0]) / 0.5
    stats = dpo_loss(chosen, torch.zeros(4), torch.zeros(2), torch.zeros(4), torch.tensor([0, 1, 1, 1]), beta=0.5,
                     prompts=2)
    expected = 0.5 * (-math.log(1 / (1 + math.exp(-1))) - math.log(1 / (1 + math.exp(1))))
    assert stats.loss.item() == pytest.approx(expected)


@pytest.mark.parametrize("split", [[3], [1, 2], [2, 1], [1, 1, 1]])
def test_each_prompts_pairs_weigh_one_prompt_whatever_the_micro_batches(split):
    """Gradient of each loser's log-prob, summed over the micro-batches of one optimizer step: every prompt's
    losers together weigh 1 / (prompts a full step holds), each loser 1 / (its prompt's losers)."""
    losers = [1, 3, 2]  # per prompt
    margin = torch.zeros(sum(losers), requires_grad=True)  # policy log-prob of each loser
    total, first = 0.0, 0
    nominal = max(split)  # prompts per micro-batch as configured; the last one may hold fewer
    for size in split:
        prompts = range(first, first + size)
        index = [i for p in prompts for i in range(sum(losers[:p]), sum(losers[: p + 1]))]
        group = torch.tensor([p - first for p in prompts for _ in range(losers[p])])
        stats = dpo_loss(torch.zeros(size), margin[index], torch.zeros(size), torch.zeros(len(index)), group,
                         beta=1.0, prompts=nominal)
        total = total + stats.loss / len(split)  # DeepSpeed divides by the micro-batches per step
        first += size
    total.backward()
    weights = margin.grad / 0.5  # d(-log sigmoid(-x))/dx = 0.5 at x = 0
    per_prompt = [weights[sum(losers[:p]):sum(losers[: p + 1])] for p in range(3)]
    assert [w.sum().item() for w in per_prompt] == pytest.approx([1 / (nominal * len(split))] * 3)
    assert all(torch.allclose(w, w[0].expand_as(w)) for w in per_prompt)


def test_masked_log_probs_renormalise_over_the_allowed_tokens_and_drop_a_once_token_after_its_use(model):
    ids = torch.tensor([[5, 6, 7, 9, 9, 8]])
    completion = torch.tensor([[0, 0, 1, 1, 1, 1]])
    banned, once = [[20, 21]], [[9]]
    got = completion_logprobs(model, ids, torch.ones_like(ids), completion, banned=banned, once=once)
    logits = model(input_ids=ids).logits[0].float()
    expected = 0.0
    for t, used in zip(range(2, 6), [set(), set(), {9}, {9}]):
        allowed = logits[t - 1].clone()
        allowed[[20, 21, *(used - {int(ids[0, t])})]] = float("-inf")
        expected += allowed.log_softmax(-1)[ids[0, t]]
    assert got.item() == pytest.approx(expected.item(), abs=1e-5)


def test_nll_term_adds_each_winners_per_token_negative_log_likelihood_computed_by_hand(model):
    """Two prompts (winner lengths 3 and 1), one loser each; policy = reference, so the DPO term is log 2.
    The NLL term is the mean over prompts of -sum log p(winner token) / winner length, from the logits."""
    from irpo.dpo.step import PreferenceObjective, preference_logprobs, preference_loss

    batch = {"prompt_ids": [[5, 6], [7]], "chosen_ids": [[8, 9, 10], [11]], "rejected_ids": [[[12]], [[13, 14]]],
             "banned": [[], []], "once": [[], []]}
    with torch.no_grad():
        logits = {0: model(torch.tensor([[5, 6, 8, 9, 10]])).logits[0].log_softmax(-1),
                  1: model(torch.tensor([[7, 11]])).logits[0].log_softmax(-1)}
    by_hand = [-(logits[0][1, 8] + logits[0][2, 9] + logits[0][3, 10]) / 3, -logits[1][0, 11]]
    expected_nll = float(sum(by_hand) / 2)
    ref = preference_logprobs(model, batch, pad_id=0)
    batch |= {"ref_chosen": ref.chosen.tolist(), "ref_rejected": [[x] for x in ref.rejected.tolist()]}
    for weight in (0.0, 0.5):
        stats = preference_loss(model, batch, 0, PreferenceObjective(beta=0.1, nll_weight=weight, dpo_weight=1.0,
                                                                     prompts=2))
        assert stats.nll.item() == pytest.approx(expected_nll, abs=1e-5)
        assert stats.dpo.item() == pytest.approx(math.log(2), abs=1e-6)
        assert stats.loss.item() == pytest.approx(math.log(2) + weight * expected_nll, abs=1e-5)
    alone = preference_loss(model, batch, 0, PreferenceObjective(0.1, nll_weight=1.0, dpo_weight=0.0, prompts=2))
    assert alone.loss.item() == pytest.approx(expected_nll, abs=1e-5) and alone.kl.item() == pytest.approx(0, abs=1e-6)


def test_nll_term_without_winner_lengths_is_refused():
    zeros = torch.zeros(2)
    with pytest.raises(ValueError, match="chosen_tokens"):
        dpo_loss(zeros, zeros, zeros, zeros, torch.arange(2), beta=0.1, prompts=2, nll_weight=1.0)


def test_pctr_model_learns_which_ad_users_click():
    torch.manual_seed(0)
    model = PCTRModel(text_dim=8, n_users=10, n_ads=4, user_dim=4, ad_dim=4, hidden=(16,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    ads = torch.randint(1, 5, (512,))
    clicked = (ads == 2).long()  # only ad 2 is ever clicked
    query, response, users = torch.randn(512, 8), torch.randn(512, 8), torch.randint(1, 11, (512,))
    slots = (torch.zeros(512, dtype=torch.long), torch.ones(512, dtype=torch.long))
    for _ in range(200):
        loss = click_loss(model(query, response, users, ads, *slots), clicked)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    probs = model.click_probability(query, response, users, ads, *slots)
    assert probs[ads == 2].mean() > 0.9 and probs[ads != 2].mean() < 0.1


def test_masked_log_probs_equal_the_distribution_the_sampler_drew_from_under_the_same_rules(model):
    from rollout.engine import TokenRules
    from rollout.hf_engine import RulesPerRow

    eos = model.config.eos_token_id
    rules = TokenRules(banned=(eos, *range(30, 60)), once=tuple(range(60, 300)))  # once-tokens recur if allowed
    prompt = torch.randint(5, 400, (1, 8))
    torch.manual_seed(0)
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, temperature=1.0, top_k=0,
                         top_p=1.0, max_new_tokens=16, logits_processor=[RulesPerRow([rules], 1, 8)],
                         output_scores=True, return_dict_in_generate=True, pad_token_id=0)
    completion = out.sequences[0, 8:]
    assert len(completion) == 16 and len(set(completion.tolist()) & set(rules.once)) >= 2
    sampler = sum(out.scores[t][0].float().log_softmax(-1)[completion[t]] for t in range(16))
    mask = torch.zeros_like(out.sequences)
    mask[0, 8:] = 1
    got = completion_logprobs(model, out.sequences, torch.ones_like(out.sequences), mask,
                              banned=[list(rules.banned)], once=[list(rules.once)])
    assert got.item() == pytest.approx(sampler.item(), abs=1e-4)


@pytest.mark.parametrize("rules", [False, True])
def test_prompt_shared_log_probs_equal_whole_sequence_log_probs_and_their_gradients(model, rules):
    """Records with prompts of different lengths, one to three losers each, completions of different
    lengths: the prompt-shared pass gives the same log-probs (to 1e-5) and the same gradients."""
    from irpo.dpo.step import preference_logprobs

    torch.manual_seed(1)
    tokens = lambda n: torch.randint(5, 400, (n,)).tolist()  # noqa: E731
    batch = {"prompt_ids": [tokens(9), tokens(4), tokens(13)],
             "chosen_ids": [tokens(5), tokens(1), tokens(7)],
             "rejected_ids": [[tokens(3)], [tokens(6), tokens(2)], [tokens(7), tokens(4), tokens(1)]],
             "banned": [tokens(6) if rules else [], [], tokens(3) if rules else []],
             "once": [tokens(40) if rules else [], tokens(40) if rules else [], []]}
    results = []
    for share in (True, False):
        model.zero_grad()
        logps = preference_logprobs(model, batch, pad_id=0, share_prompt=share)
        (logps.chosen.sum() - 0.5 * logps.rejected.sum()).backward()
        results.append((logps, [p.grad.clone() for p in model.parameters()]))
    (shared, shared_grads), (whole, whole_grads) = results
    assert torch.allclose(shared.chosen, whole.chosen, atol=1e-5)
    assert torch.allclose(shared.rejected, whole.rejected, atol=1e-5)
    assert shared.group.tolist() == whole.group.tolist() == [0, 1, 1, 2, 2, 2]
    assert shared.chosen_tokens.tolist() == whole.chosen_tokens.tolist() == [5, 1, 7]
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(shared_grads, whole_grads))


def test_the_kl_budget_ends_a_phase_only_when_the_window_mean_at_a_step_end_exceeds_it():
    from irpo.dpo.trainer import KLBudget

    budget = KLBudget(limit=1.0, window=2)
    # two micro-batches per optimizer step: step means 0.5, 1.0, 2.0
    outcomes = [budget.after_micro_batch(kl, boundary) for kl, boundary in
                [(0.0, False), (1.0, True), (1.0, False), (1.0, True), (3.0, False), (1.0, True)]]
    assert outcomes == [None, None, None, None, None, 1.5]
    assert all(KLBudget(None, 1).after_micro_batch(99.0, True) is None for _ in range(3))
