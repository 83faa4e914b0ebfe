// The one name table from the original (ldm / Stable Diffusion single-file) VAE layout to ours
// (diffusers' AutoencoderKL names, autoencoder_kl.h).
//
//   ldm (prefix first_stage_model.)           ours
//   {encoder,decoder}.norm_out                {encoder,decoder}.conv_norm_out
//   encoder.down.I.block.J / .downsample.conv encoder.down_blocks.I.resnets.J / .downsamplers.0.conv
//   decoder.up.I.block.J / .upsample.conv     decoder.up_blocks.(N-1-I).resnets.J / .upsamplers.0.conv
//                                             (ldm indexes the decoder by resolution level; diffusers
//                                             in the order the blocks run)
//   *.mid.block_1 / block_2                   *.mid_block.resnets.0 / 1
//   *.mid.attn_1.{norm,q,k,v,proj_out}        *.mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}
//                                             (1x1 conv weights [C,C,1,1] become Linear [C,C])
//   nin_shortcut                              conv_shortcut
//   quant_conv, post_quant_conv               the same
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

namespace dreamdpo::models::sd {

// Default prefix of the VAE in an SD / MVDream single-file checkpoint.
inline constexpr const char* kLdmVaePrefix = "first_stage_model.";

// Selects the tensors under `prefix` and renames them. Names under the prefix that the table
// does not know are kept (prefix removed) so that a strict load names them as unexpected; a
// tensor whose shape cannot be converted is an error naming it.
std::map<std::string, at::Tensor> ldm_vae_to_diffusers(const std::map<std::string, at::Tensor>& tensors,
                                                       const std::string& prefix = kLdmVaePrefix);

// One name, without prefix ("encoder.down.0.block.1.nin_shortcut.weight" ->
// "encoder.down_blocks.0.resnets.1.conv_shortcut.weight"); `levels` = number of resolution levels
// (to reverse the decoder's). Unknown names come back unchanged.
std::string ldm_vae_name_to_diffusers(const std::string& name, int levels);

}  // namespace dreamdpo::models::sd
