// Checkpoints of modules: a module's parameters saved as a safetensors file under their state_dict names, so that
// PyTorch's load_state_dict(safetensors.torch.load_file(path)) reads them, and loaded back with every name, dtype
// and shape checked first. The file format itself is io/safetensors.hpp; this header is what knows about modules.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "attractor/core/error.hpp"
#include "attractor/io/file.hpp"
#include "attractor/io/safetensors.hpp"
#include "attractor/nn/parameter.hpp"

namespace attractor {

namespace detail::safetensors {

/// Non-null parameters with unique, non-empty names; returns the names in list order.
template <floating_scalar S>
std::vector<std::string> checked_names(const nn::parameter_list<S, cpu>& params, std::string_view fn) {
  std::vector<std::string> names;
  names.reserve(params.size());
  std::map<std::string_view, std::size_t> seen;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i] == nullptr) fail(fn, "non-null parameters", concat("a null pointer at index ", i));
    const std::string& name = params[i]->name;
    if (name.empty()) fail(fn, "a name for every parameter", concat("an empty name at index ", i));
    const auto [it, inserted] = seen.emplace(name, i);
    if (!inserted) fail(fn, "unique parameter names", concat(quote(name, 60), " at indices ", it->second, " and ", i));
    names.push_back(name);
  }
  return names;
}

}  // namespace detail::safetensors

namespace nn {

// The file format's names, as they were spelled when safetensors lived in nn/ (before the io layer).
using attractor::safetensors_checksum_key;
using attractor::safetensors_file;
using attractor::safetensors_metadata;
using attractor::safetensors_view;
using attractor::save_safetensors;

/// Saves a module's parameters (their values, under their state_dict names) as a safetensors checkpoint that
/// PyTorch's load_state_dict(safetensors.torch.load_file(path)) accepts. Parameters on cuda are copied to the
/// host by the caller.
template <floating_scalar S>
void save_parameters(const std::filesystem::path& path, const parameter_list<S, cpu>& params,
                     const safetensors_metadata& metadata = {}) {
  const std::string fn = attractor::detail::concat("save_parameters(", path, ")");
  (void)attractor::detail::safetensors::checked_names<S>(params, fn);
  std::vector<attractor::detail::safetensors::output> out;
  out.reserve(params.size());
  for (const auto* p : params)
    out.push_back(attractor::detail::safetensors::make_output<S>(p->name, const_tensor_view<S, cpu>(p->value.view())));
  attractor::detail::safetensors::save(path, std::move(out), metadata, fn);
}

/// Loads a checkpoint into a module's parameters. The file must hold exactly the parameters' names (missing and
/// unexpected names are both reported: a checkpoint of another architecture), each of dtype S and of the
/// parameter's shape. Everything is checked before any parameter is written: on error, none has changed.
/// Values are copied into the parameters' existing storage (views of them stay valid); gradients are untouched.
template <floating_scalar S>
void load_parameters(const std::filesystem::path& path, const parameter_list<S, cpu>& params) {
  const std::string fn = attractor::detail::concat("load_parameters(", path, ")");
  const std::vector<std::string> names = attractor::detail::safetensors::checked_names<S>(params, fn);
  const safetensors_file file = safetensors_file::read(path);

  std::vector<std::string> missing, unexpected;
  for (const auto& name : names)
    if (!file.contains(name)) missing.push_back(name);
  const std::set<std::string_view> expected(names.begin(), names.end());
  for (const auto& name : file.names())
    if (expected.count(name) == 0) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty()) {
    using attractor::detail::safetensors::names_text;
    fail(fn, attractor::detail::concat("the ", names.size(), " tensors of the module"),
         attractor::detail::concat(
             "a checkpoint of the wrong architecture (", file.size(), " tensors): ",
             missing.empty() ? std::string()
                             : attractor::detail::concat(missing.size(), " missing: ", names_text(missing)),
             !missing.empty() && !unexpected.empty() ? "; " : "",
             unexpected.empty()
                 ? std::string()
                 : attractor::detail::concat(unexpected.size(), " unexpected: ", names_text(unexpected))));
  }
  for (const auto* p : params) {
    const auto& t = file.info(p->name);
    constexpr std::string_view want = attractor::detail::safetensors::dtype_name<S>;
    if (t.dtype != want)
      fail(fn,
           attractor::detail::concat("tensor ", attractor::detail::quote(p->name, 60), " of dtype ",
                                     attractor::detail::safetensors::describe(want), " (no implicit conversion)"),
           attractor::detail::concat("dtype ", attractor::detail::safetensors::describe(t.dtype)));
    const bool same =
        t.extents.size() == p->value.rank() && std::equal(t.extents.begin(), t.extents.end(), p->value.shape().begin());
    if (!same)
      fail(fn,
           attractor::detail::concat("tensor ", attractor::detail::quote(p->name, 60), " of shape ", p->value.shape()),
           attractor::detail::concat("shape ", attractor::detail::safetensors::extents_text(t.extents)));
  }
  for (auto* p : params) file.copy_into<S>(p->name, p->value.view());
}

}  // namespace nn
}  // namespace attractor
