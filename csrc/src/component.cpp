// Component names: the one place a name becomes a Component.
#include "confluex/component.hpp"

namespace confluex {

std::optional<Component> find_component(std::string_view name) noexcept {
    for (std::size_t i = 0; i < kComponentCount; ++i) {
        if (kComponentNames[i] == name) {
            return static_cast<Component>(i);
        }
    }
    return std::nullopt;
}

std::string unknown_component_message(std::string_view name) {
    std::string known;
    for (std::size_t i = 0; i < kComponentCount; ++i) {
        known += (i == 0 ? "" : ", ");
        known += kComponentNames[i];
    }
    return "unknown component name, was '" + std::string(name) + "' (known: " + known + ")";
}

} // namespace confluex
